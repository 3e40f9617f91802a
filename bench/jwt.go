package bench

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWTCookieName is the cookie the JWT contender writes.
const JWTCookieName = "token"

// jwtClaims is the session as JWT claims: the registered claims carry the
// user ID (sub), issued-at and expiry; the rest are private claims.
type jwtClaims struct {
	jwt.RegisteredClaims
	Roles      []string   `json:"roles"`
	CSRF       []byte     `json:"csrf"`
	Flash      string     `json:"flash"`
	Cart       []CartItem `json:"cart"`
	Locale     string     `json:"locale"`
	LastSeen   int64      `json:"seen"`
	Generation uint32     `json:"gen"`
	UserEpoch  uint64     `json:"epoch"`
}

func jwtKey() []byte {
	k := sha256.Sum256([]byte("bench jwt hs256 key"))
	return k[:]
}

// NewJWT sets up the golang-jwt v5 contender: an HS256-signed (not
// encrypted) token holding s, in a cookie.
func NewJWT(s Session, seen Seen) (*Contender, error) {
	key := jwtKey()
	keyFunc := func(*jwt.Token) (any, error) { return key, nil }
	parser := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired())
	write := func(w http.ResponseWriter, c *jwtClaims) error {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
		if err != nil {
			return err
		}
		http.SetCookie(w, &http.Cookie{
			Name: JWTCookieName, Value: tok, Path: "/", MaxAge: 24 * 60 * 60,
			HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode,
		})
		return nil
	}
	parse := func(r *http.Request) (*jwtClaims, error) {
		ck, err := r.Cookie(JWTCookieName)
		if err != nil {
			return nil, err
		}
		var c jwtClaims
		if _, err := parser.ParseWithClaims(ck.Value, &c, keyFunc); err != nil {
			return nil, err
		}
		if c.Subject == "" || len(c.Cart) == 0 {
			return nil, errNoSession
		}
		return &c, nil
	}
	login := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &jwtClaims{
			RegisteredClaims: jwt.RegisteredClaims{
				Subject:   s.UserID,
				IssuedAt:  jwt.NewNumericDate(s.IssuedAt),
				ExpiresAt: jwt.NewNumericDate(time.Now().Add(24 * time.Hour)),
			},
			Roles: s.Roles, CSRF: s.CSRF, Flash: s.Flash, Cart: s.Cart, Locale: s.Locale,
			LastSeen: s.LastSeen.UnixMilli(), Generation: s.Generation, UserEpoch: s.UserEpoch,
		}
		if err := write(w, c); err != nil {
			fail(w, err)
		}
	})
	cookie, err := setupRequest(login, "")
	if err != nil {
		return nil, fmt.Errorf("jwt: %w", err)
	}
	read := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := parse(r)
		if err != nil {
			fail(w, err)
			return
		}
		if seen != nil {
			seen(c.Subject, c.Cart)
		}
	})
	rmw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := parse(r)
		if err != nil {
			fail(w, err)
			return
		}
		if seen != nil {
			seen(c.Subject, c.Cart)
		}
		Bump(c.Cart)
		if err := write(w, c); err != nil {
			fail(w, err)
		}
	})
	return &Contender{Name: "jwt", Cookie: cookie, Read: read, RMW: rmw}, nil
}
