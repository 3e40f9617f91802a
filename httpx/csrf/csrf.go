package csrf

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"html/template"
	"net/http"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/versioning"
)

// Defaults for Options fields left empty.
const (
	// DefaultFieldName is the form field Protect reads the token from.
	DefaultFieldName = "csrf_token"
	// DefaultHeaderName is the request header Protect reads the token
	// from; it is tried before the form field.
	DefaultHeaderName = "X-CSRF-Token"
)

// SecretSize is the size of a session's secret in bytes.
const SecretSize = 32

// tokenLen is the length of a token: base64url, no padding, of a mask and
// the masked secret.
var tokenLen = base64.RawURLEncoding.EncodedLen(2 * SecretSize)

// Errors given to Options.ErrorHandler. They never reach the client.
var (
	// ErrTokenMissing means an unsafe request carried no token.
	ErrTokenMissing = errors.New("csrf: no token in the request")
	// ErrTokenInvalid means the request's token is malformed, was issued
	// for another session, or for this session before its secret rotated
	// (at login, say), or the session has no secret at all.
	ErrTokenInvalid = errors.New("csrf: token does not match the session")
)

// secretKey holds the session's secret: the session's generation when it
// was made (4 bytes, big endian), then SecretSize random bytes.
var secretKey = codec.NewReservedKey[[]byte]("_csrf")

const storedLen = 4 + SecretSize

// current returns the session's secret if it has one made for the
// session's present generation.
func current(s *httpx.Session) ([]byte, bool) {
	v, ok := secretKey.Get(s)
	if !ok || len(v) != storedLen || binary.BigEndian.Uint32(v) != s.Generation() {
		return nil, false
	}
	return v[4:], true
}

// newSecret stores a fresh secret in s and returns it.
func newSecret(s *httpx.Session) ([]byte, error) {
	v := make([]byte, storedLen)
	binary.BigEndian.PutUint32(v, s.Generation())
	if _, err := rand.Read(v[4:]); err != nil {
		return nil, err
	}
	if err := secretKey.Set(s, v); err != nil {
		return nil, fmt.Errorf("csrf: store the secret: %w", err)
	}
	return v[4:], nil
}

// Token returns a token for s, to put in a form (Field) or a request
// header. It creates the session's secret if there is none, or none since
// the session's ID was last regenerated; that is a change to the session,
// which fails after the response has started (httpx.ErrResponseStarted)
// or when the session is full (*httpx.SizeError). Every call returns a
// different string; all of them verify until the secret rotates.
func Token(s *httpx.Session) (string, error) {
	secret, ok := current(s)
	if !ok {
		var err error
		if secret, err = newSecret(s); err != nil {
			return "", err
		}
	}
	var buf [2 * SecretSize]byte
	if _, err := rand.Read(buf[:SecretSize]); err != nil {
		return "", err
	}
	subtle.XORBytes(buf[SecretSize:], buf[:SecretSize], secret)
	return base64.RawURLEncoding.EncodeToString(buf[:]), nil
}

// Field returns a hidden form field that carries a token for s, named
// DefaultFieldName, for html/template:
//
//	<form method="post">{{.CSRF}} ...</form>
//
// Errors are Token's. With Options.FieldName set, write the field with
// Token instead.
func Field(s *httpx.Session) (template.HTML, error) {
	tok, err := Token(s)
	if err != nil {
		return "", err
	}
	// A token is base64url: nothing in it needs escaping.
	return template.HTML(`<input type="hidden" name="` + DefaultFieldName + `" value="` + tok + `">`), nil
}

// Rotate gives s a new secret: every token issued before no longer
// verifies. Login and Regenerate rotate it by themselves; call Rotate for
// other changes of privilege. It fails after the response has started.
func Rotate(s *httpx.Session) error {
	_, err := newSecret(s)
	return err
}

// Verify reports whether token is a valid token for s: nil, or an error
// matching ErrTokenMissing (token is empty) or ErrTokenInvalid. The
// comparison takes the same time whichever byte differs. Verify never
// changes the session.
func Verify(s *httpx.Session, token string) error {
	if token == "" {
		return ErrTokenMissing
	}
	if len(token) != tokenLen {
		return ErrTokenInvalid
	}
	var buf [2 * SecretSize]byte
	if n, err := base64.RawURLEncoding.Decode(buf[:], []byte(token)); err != nil || n != len(buf) {
		return ErrTokenInvalid
	}
	secret, ok := current(s)
	if !ok {
		return ErrTokenInvalid
	}
	var got [SecretSize]byte
	subtle.XORBytes(got[:], buf[:SecretSize], buf[SecretSize:])
	if subtle.ConstantTimeCompare(got[:], secret) != 1 {
		return ErrTokenInvalid
	}
	return nil
}

// Options configures Protect. The zero value is ready to use.
type Options struct {
	// FieldName is the form field that carries the token. Default
	// "csrf_token".
	FieldName string
	// HeaderName is the request header that carries the token; it is
	// tried first. Default "X-CSRF-Token".
	HeaderName string
	// ErrorHandler answers a request that failed the check; the protected
	// handler is not called. err matches ErrTokenMissing or
	// ErrTokenInvalid, and also versioning.ErrStoreUnavailable when the
	// session could not be checked because the store is down. Do not
	// tell the client which. Default: DefaultErrorHandler.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// DefaultErrorHandler answers 403 Forbidden, or 503 Service Unavailable
// when err matches versioning.ErrStoreUnavailable, with only the status
// text in the body.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusForbidden
	if errors.Is(err, versioning.ErrStoreUnavailable) {
		code = http.StatusServiceUnavailable
	}
	http.Error(w, http.StatusText(code), code)
}

// Protect returns a middleware that lets a request with an unsafe method
// (anything but GET, HEAD, OPTIONS and TRACE) through only if it carries a
// valid token for m's session of the request, in the header or, failing
// that, in the form field named by opts. Safe requests pass untouched (no
// secret is created for them). It must run inside m.Wrap:
//
//	m.Wrap(csrf.Protect(m, csrf.Options{})(mux))
//
// and panics on an unsafe request m did not wrap, as m.FromContext does
// (a wiring mistake must not let requests through unchecked).
//
// The form field is read from a urlencoded or multipart body of a POST,
// PUT or PATCH request (r.PostFormValue: the handler then finds the form
// parsed); other methods, such as DELETE, must send the header, and so
// should clients that upload large bodies.
func Protect(m *httpx.Manager, opts Options) func(http.Handler) http.Handler {
	if m == nil {
		panic("csrf: Protect: nil *httpx.Manager")
	}
	field, header, onErr := opts.FieldName, opts.HeaderName, opts.ErrorHandler
	if field == "" {
		field = DefaultFieldName
	}
	if header == "" {
		header = DefaultHeaderName
	}
	if onErr == nil {
		onErr = DefaultErrorHandler
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
				next.ServeHTTP(w, r)
				return
			}
			s, ok := m.Lookup(r.Context())
			if !ok {
				panic("csrf: Protect must run inside the Manager's Wrap (m.Wrap(csrf.Protect(m, opts)(mux)))")
			}
			if s.UsesToken() {
				// A Bearer token is never sent by a browser on its own:
				// no forgery to defend against.
				next.ServeHTTP(w, r)
				return
			}
			tok := r.Header.Get(header)
			if tok == "" {
				tok = r.PostFormValue(field)
			}
			if err := Verify(s, tok); err != nil {
				if rej := s.Rejected(); rej != nil && errors.Is(rej, versioning.ErrStoreUnavailable) {
					err = fmt.Errorf("%w (the session could not be checked: %w)", err, rej)
				}
				onErr(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
