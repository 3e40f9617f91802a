package bench

import (
	"crypto/sha256"
	"encoding/gob"
	"fmt"
	"net/http"

	"github.com/gorilla/sessions"
)

func init() {
	// gorilla/sessions keeps values in map[interface{}]interface{} encoded
	// with gob, so every non-basic type must be registered.
	gob.Register([]CartItem(nil))
}

// GorillaCookieName is the cookie gorilla/sessions writes.
const GorillaCookieName = "session"

// GorillaKeys returns the fixed 32-byte HMAC hash key and 32-byte AES-256
// block key the gorilla contender uses.
func GorillaKeys() (hashKey, blockKey []byte) {
	h := sha256.Sum256([]byte("bench gorilla hash key"))
	b := sha256.Sum256([]byte("bench gorilla block key"))
	return h[:], b[:]
}

// NewGorillaStore returns the gorilla/sessions CookieStore the benchmarks
// measure: default securecookie codec (gob, HMAC-SHA256, AES-256-CTR) with
// cookie attributes matching sealedsession's defaults.
func NewGorillaStore() *sessions.CookieStore {
	store := sessions.NewCookieStore(GorillaKeys())
	store.Options.HttpOnly = true
	store.Options.Secure = true
	store.Options.SameSite = http.SameSiteLaxMode
	store.Options.MaxAge = 24 * 60 * 60
	return store
}

// GorillaPut copies s into a gorilla session's values.
func GorillaPut(sess *sessions.Session, s Session) {
	v := sess.Values
	v[NameUserID] = s.UserID
	v[NameRoles] = s.Roles
	v[NameCSRF] = s.CSRF
	sess.AddFlash(s.Flash)
	v[NameCart] = s.Cart
	v[NameLocale] = s.Locale
	v[NameIssued] = s.IssuedAt.UnixMilli()
	v[NameSeen] = s.LastSeen.UnixMilli()
	v[NameGen] = s.Generation
	v[NameEpoch] = s.UserEpoch
}

func gorillaRead(sess *sessions.Session) (string, []CartItem, error) {
	uid, _ := sess.Values[NameUserID].(string)
	cart, _ := sess.Values[NameCart].([]CartItem)
	if uid == "" || len(cart) == 0 {
		return "", nil, errNoSession
	}
	return uid, cart, nil
}

// NewGorilla sets up the gorilla/sessions CookieStore contender with s.
func NewGorilla(s Session, seen Seen) (*Contender, error) {
	store := NewGorillaStore()
	login := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, _ := store.New(r, GorillaCookieName)
		GorillaPut(sess, s)
		if err := sess.Save(r, w); err != nil {
			fail(w, err)
		}
	})
	cookie, err := setupRequest(login, "")
	if err != nil {
		return nil, fmt.Errorf("gorilla: %w", err)
	}
	read := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := store.Get(r, GorillaCookieName)
		if err != nil {
			fail(w, err)
			return
		}
		uid, cart, err := gorillaRead(sess)
		if err != nil {
			fail(w, err)
			return
		}
		if seen != nil {
			seen(uid, cart)
		}
	})
	rmw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := store.Get(r, GorillaCookieName)
		if err != nil {
			fail(w, err)
			return
		}
		uid, cart, err := gorillaRead(sess)
		if err != nil {
			fail(w, err)
			return
		}
		if seen != nil {
			seen(uid, cart)
		}
		Bump(cart)
		sess.Values[NameCart] = cart
		if err := sess.Save(r, w); err != nil {
			fail(w, err)
		}
	})
	return &Contender{Name: "gorilla", Cookie: cookie, Read: read, RMW: rmw}, nil
}
