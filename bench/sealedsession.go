package bench

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/sealed"
)

// The typed keys sealedsession stores the session's values under. The user
// ID, timestamps, generation and epoch live in the payload header and the
// flash in the payload's flash list.
var (
	RolesKey  = codec.NewKey[[]string](NameRoles)
	CSRFKey   = codec.NewKey[[]byte](NameCSRF)
	CartKey   = codec.NewKey[[]CartItem](NameCart)
	LocaleKey = codec.NewKey[string](NameLocale)
	BlobKey   = codec.NewKey[[]byte](NameBlob)
)

// Keyring returns the fixed key ring every sealedsession contender uses.
func Keyring() *sealed.Keyring {
	secret := sha256.Sum256([]byte("bench sealedsession key"))
	k, err := sealed.NewKey(secret[:])
	if err != nil {
		panic(err) // 32 bytes cannot fail
	}
	ring, err := sealed.NewKeyring(k)
	if err != nil {
		panic(err)
	}
	return ring
}

// RaisedMaxHeaderBytes is the size budget the benchmarks run with: the
// raised setting of docs/proxies.md (a proxy configured for large response
// headers), so that the large payload is served, chunked, where the peers
// break the 4 KB cookie limit. The typical payload fits the default.
const RaisedMaxHeaderBytes = 12288

// NewManager returns the middleware the benchmarks measure: defaults
// everywhere (the __Host- cookie, Secure, the in-memory epoch and
// revocation store) but the key ring and the raised size budget. insecure
// sets InsecureAllowPlainHTTP, which the plain-http load test needs.
func NewManager(insecure bool) (*httpx.Manager, error) {
	return httpx.New(httpx.Config{Keys: Keyring(), Cookie: httpx.CookieConfig{
		InsecureAllowPlainHTTP: insecure,
		MaxHeaderBytes:         RaisedMaxHeaderBytes,
	}})
}

// PutSession copies s's values into a sealedsession session: the typed
// values and the flash. The header (user ID via Login, timestamps,
// generation) is the middleware's.
func PutSession(v codec.Values, s Session) error {
	p := v.Payload()
	for _, err := range []error{
		p.AddFlash(s.Flash),
		RolesKey.Set(v, s.Roles),
		CSRFKey.Set(v, s.CSRF),
		CartKey.Set(v, s.Cart),
		LocaleKey.Set(v, s.Locale),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// CapturePayload returns the encoded payload sealedsession's middleware
// seals into its cookie for s, byte for byte: it logs s in, then reads the
// payload back in a second request that changes nothing (unchanged values
// and header encode to the bytes they were decoded from). The raw-limit
// and open+decode contenders seal these bytes.
func CapturePayload(s Session) ([]byte, error) {
	m, err := NewManager(false)
	if err != nil {
		return nil, err
	}
	c, err := newSealedSession(m, s, nil)
	if err != nil {
		return nil, err
	}
	var pt []byte
	capture := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss := httpx.FromContext(r.Context())
		if ss.IsNew() {
			fail(w, errNoSession)
			return
		}
		pt = ss.Payload().AppendEncode(nil)
	}))
	if _, err := setupRequest(capture, c.Cookie); err != nil {
		return nil, err
	}
	value, ok := strings.CutPrefix(c.Cookie, m.CookieName()+"=")
	if !ok || strings.Contains(value, ";") {
		return nil, fmt.Errorf("bench: expected one %s cookie, got %q", m.CookieName(), c.Cookie)
	}
	if want := sealed.OpenedLen(len(value)); len(pt) != want {
		return nil, fmt.Errorf("bench: captured payload is %d bytes, the cookie holds %d", len(pt), want)
	}
	return pt, nil
}

// NewSealedSession sets up sealedsession's httpx middleware with s.
func NewSealedSession(s Session, seen Seen) (*Contender, error) {
	m, err := NewManager(false)
	if err != nil {
		return nil, err
	}
	return newSealedSession(m, s, seen)
}

func newSealedSession(m *httpx.Manager, s Session, seen Seen) (*Contender, error) {
	login := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss := httpx.FromContext(r.Context())
		if err := ss.Login(s.UserID); err != nil {
			fail(w, err)
			return
		}
		if err := PutSession(ss, s); err != nil {
			fail(w, err)
		}
	}))
	cookie, err := setupRequest(login, "")
	if err != nil {
		return nil, fmt.Errorf("sealedsession: %w", err)
	}
	get := func(w http.ResponseWriter, r *http.Request) (*httpx.Session, []CartItem, bool) {
		ss := httpx.FromContext(r.Context())
		uid := ss.UserID()
		cart, ok := CartKey.Get(ss)
		if uid == "" || !ok || len(cart) == 0 {
			fail(w, errNoSession)
			return nil, nil, false
		}
		if seen != nil {
			seen(uid, cart)
		}
		return ss, cart, true
	}
	read := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		get(w, r)
	}))
	rmw := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss, cart, ok := get(w, r)
		if !ok {
			return
		}
		Bump(cart)
		if err := CartKey.Set(ss, cart); err != nil {
			fail(w, err)
		}
	}))
	return &Contender{Name: "sealedsession", Cookie: cookie, Read: read, RMW: rmw}, nil
}

// NewRawFor sets up the raw-limit contender over sealedsession's encoded
// payload of s, under sealedsession's default cookie name.
func NewRawFor(s Session) (*Contender, *RawLimit, error) {
	pt, err := CapturePayload(s)
	if err != nil {
		return nil, nil, err
	}
	c, rl := NewRaw(httpx.DefaultCookieName, pt)
	return c, rl, nil
}

// OpenDecode is the non-HTTP reference for the middleware: sealedsession's
// own sealed.Sealer and codec on the same cookie text, with no HTTP and no
// timeout or epoch check.
type OpenDecode struct {
	sealer  *sealed.Sealer
	context []byte
	// Text is the sealed cookie value.
	Text []byte
	buf  []byte
	out  []byte
}

// NewOpenDecode seals sealedsession's payload of s for OpenDecode.
func NewOpenDecode(s Session) (*OpenDecode, error) {
	sl, err := sealed.NewSealer(Keyring(), "bench", nil)
	if err != nil {
		return nil, err
	}
	pt, err := CapturePayload(s)
	if err != nil {
		return nil, err
	}
	od := &OpenDecode{sealer: sl, context: []byte(httpx.DefaultCookieName)}
	if od.Text, err = sl.Seal(nil, pt, od.context); err != nil {
		return nil, err
	}
	return od, nil
}

// Read opens the text, decodes the payload and reads the user ID and cart
// (the read-only request's work without HTTP).
func (od *OpenDecode) Read() (string, []CartItem, error) {
	_, uid, cart, err := od.read()
	return uid, cart, err
}

func (od *OpenDecode) read() (*codec.Payload, string, []CartItem, error) {
	// The plaintext must not alias a reused buffer: the payload keeps
	// slices of it.
	pt, _, err := od.sealer.Open(make([]byte, 0, sealed.OpenedLen(len(od.Text))), od.Text, od.context)
	if err != nil {
		return nil, "", nil, err
	}
	p, err := codec.Decode(pt, nil)
	if err != nil {
		return nil, "", nil, err
	}
	cart, ok := CartKey.Get(p)
	if !ok {
		return nil, "", nil, errNoSession
	}
	return p, p.Header().UserID, cart, nil
}

// ReadModifyWrite does Read, bumps the cart, encodes the payload and seals
// it with a fresh nonce, returning the new text (valid until the next
// call).
func (od *OpenDecode) ReadModifyWrite(now time.Time) ([]byte, error) {
	p, _, cart, err := od.read()
	if err != nil {
		return nil, err
	}
	Bump(cart)
	if err := CartKey.Set(p, cart); err != nil {
		return nil, err
	}
	p.Header().LastSeen = now
	od.buf = p.AppendEncode(od.buf[:0])
	od.out, err = od.sealer.Seal(od.out[:0], od.buf, od.context)
	return od.out, err
}

// NewSealedSessionScale sets up sealedsession with a session holding the
// user ID and an n-byte blob. Past the cookie budget it fails with the
// middleware's size error (httpx.ErrTooLarge).
func NewSealedSessionScale(n int) (*Contender, error) {
	m, err := NewManager(false)
	if err != nil {
		return nil, err
	}
	blob := Blob(n)
	var sizeErr error
	login := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss := httpx.FromContext(r.Context())
		if err := ss.Login("u-1842"); err != nil {
			fail(w, err)
			return
		}
		// A value over the budget is refused when it is set.
		if sizeErr = BlobKey.Set(ss, blob); sizeErr != nil {
			fail(w, sizeErr)
		}
	}))
	cookie, err := setupRequest(login, "")
	if sizeErr != nil {
		return nil, fmt.Errorf("sealedsession with a %d-byte payload: %w", n, sizeErr)
	}
	if err != nil {
		return nil, err
	}
	get := func(w http.ResponseWriter, r *http.Request) (*httpx.Session, []byte, bool) {
		ss := httpx.FromContext(r.Context())
		b, ok := BlobKey.Get(ss)
		if !ok || len(b) != n {
			fail(w, errNoSession)
			return nil, nil, false
		}
		return ss, b, true
	}
	read := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { get(w, r) }))
	rmw := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss, b, ok := get(w, r)
		if !ok {
			return
		}
		b[0]++
		if err := BlobKey.Set(ss, b); err != nil {
			fail(w, err)
		}
	}))
	return &Contender{Name: "sealedsession", Cookie: cookie, Read: read, RMW: rmw}, nil
}

// ScaleMax returns the largest blob, in bytes, that fits sealedsession's
// size budget (RaisedMaxHeaderBytes, chunked), found by bisection.
func ScaleMax() (int, error) {
	lo, hi := 64, 16384 // lo fits, hi does not
	if _, err := NewSealedSessionScale(lo); err != nil {
		return 0, err
	}
	if _, err := NewSealedSessionScale(hi); err == nil {
		return 0, fmt.Errorf("bench: sealedsession accepted a %d-byte payload", hi)
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if _, err := NewSealedSessionScale(mid); err == nil {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}
