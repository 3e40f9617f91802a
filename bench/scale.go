package bench

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"time"
)

// NameBlob is the value name of the scaling payload.
const NameBlob = "data"

// ScaleSizes are the payload sizes, in bytes of application data, that the
// scaling benchmarks run at; ScaleMax (sealedsession's chunked maximum for
// the benchmarks' raised budget, found at set-up) is added to them.
var ScaleSizes = []int{64, 256, 1024, 2048, 3072, 4096, 5120}

// Blob returns n deterministic, incompressible bytes: the scaling payload.
func Blob(n int) []byte {
	out := make([]byte, 0, n+sha256.Size)
	seed := sha256.Sum256([]byte("bench blob"))
	for len(out) < n {
		out = append(out, seed[:]...)
		seed = sha256.Sum256(seed[:])
	}
	return out[:n]
}

// NewGorillaScale sets up gorilla/sessions with a session holding the user
// ID and an n-byte blob. Past securecookie's 4096-byte limit on the
// encoded value this fails with the error Save returned
// ("securecookie: the value is too long").
func NewGorillaScale(n int) (*Contender, error) {
	store := NewGorillaStore()
	blob := Blob(n)
	var saveErr error
	login := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, _ := store.New(r, GorillaCookieName)
		sess.Values[NameUserID] = "u-1842"
		sess.Values[NameBlob] = blob
		if saveErr = sess.Save(r, w); saveErr != nil {
			fail(w, saveErr)
		}
	})
	cookie, err := setupRequest(login, "")
	if saveErr != nil {
		return nil, fmt.Errorf("gorilla with a %d-byte payload: %w", n, saveErr)
	}
	if err != nil {
		return nil, err
	}
	get := func(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
		sess, err := store.Get(r, GorillaCookieName)
		if err != nil {
			fail(w, err)
			return nil, false
		}
		b, _ := sess.Values[NameBlob].([]byte)
		if len(b) != n {
			fail(w, errNoSession)
			return nil, false
		}
		return b, true
	}
	read := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { get(w, r) })
	rmw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := get(w, r)
		if !ok {
			return
		}
		b[0]++
		sess, _ := store.Get(r, GorillaCookieName) // cached in the request's registry
		sess.Values[NameBlob] = b
		if err := sess.Save(r, w); err != nil {
			fail(w, err)
		}
	})
	return &Contender{Name: "gorilla", Cookie: cookie, Read: read, RMW: rmw}, nil
}

// CookieSize is one contender's cookie for one payload.
type CookieSize struct {
	Payload, Contender string
	// Bytes is the Cookie request header the browser sends back.
	Bytes int
}

// CookieSizes sets up every contender with every payload and returns the
// size of each one's cookie, raw limit first.
func CookieSizes(now time.Time) ([]CookieSize, error) {
	type newFunc func(Session, Seen) (*Contender, error)
	news := []newFunc{
		func(s Session, _ Seen) (*Contender, error) { c, _, err := NewRawFor(s); return c, err },
		NewSealedSession, NewJWT, NewSCS, NewGorilla,
	}
	var out []CookieSize
	for _, p := range Payloads(now) {
		for _, nf := range news {
			c, err := nf(p.Session, nil)
			if err != nil {
				return nil, err
			}
			out = append(out, CookieSize{Payload: p.Name, Contender: c.Name, Bytes: c.CookieBytes()})
			if c.Close != nil {
				c.Close()
			}
		}
	}
	return out, nil
}
