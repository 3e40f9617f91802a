package csrf_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/httpx/csrf"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/memstore"
	"github.com/sealedsession/sealedsession/versioning/mock"
)

// app is a protected application: GET /token answers a token, POST
// /login logs in, and every other request answers "done" (counted).
type app struct {
	t       *testing.T
	m       *httpx.Manager
	h       http.Handler
	reached atomic.Int32
}

func newApp(t *testing.T, store versioning.Store, opts csrf.Options) *app {
	t.Helper()
	key, err := sealed.GenerateKey()
	require.NoError(t, err)
	keys, err := sealed.NewKeyring(key)
	require.NoError(t, err)
	if store == nil {
		store = memstore.New(nil)
	}
	m, err := httpx.New(httpx.Config{Keys: keys, Store: store})
	require.NoError(t, err)
	a := &app{t: t, m: m}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		tok, err := csrf.Token(httpx.FromContext(r.Context()))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, tok)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := httpx.FromContext(r.Context()).Login(r.PostFormValue("user")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "logged in")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.reached.Add(1)
		io.WriteString(w, "done")
	})
	a.h = m.Wrap(csrf.Protect(m, opts)(mux))
	return a
}

// browser keeps one client's session cookie.
type browser struct {
	a      *app
	cookie string // the Cookie header it sends
}

func (a *app) browser() *browser { return &browser{a: a} }

// do sends a request; form (if not nil) is the urlencoded body, header
// extra request headers. It applies the response's session cookie.
func (b *browser) do(method, target string, form url.Values, header http.Header) *httptest.ResponseRecorder {
	b.a.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if b.cookie != "" {
		req.Header.Set("Cookie", b.cookie)
	}
	rec := httptest.NewRecorder()
	b.a.h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name != b.a.m.CookieName() {
			continue
		}
		if c.MaxAge < 0 {
			b.cookie = ""
		} else {
			b.cookie = c.Name + "=" + c.Value
		}
	}
	return rec
}

func (b *browser) token() string {
	b.a.t.Helper()
	rec := b.do(http.MethodGet, "/token", nil, nil)
	require.Equal(b.a.t, http.StatusOK, rec.Code, "GET /token: %s", rec.Body)
	return rec.Body.String()
}

func hdr(tok string) http.Header { return http.Header{"X-Csrf-Token": {tok}} }

func (a *app) wantRefused(rec *httptest.ResponseRecorder, what string) {
	a.t.Helper()
	require.Equal(a.t, http.StatusForbidden, rec.Code, "%s: body %q", what, rec.Body)
	require.Equal(a.t, "Forbidden", strings.TrimSpace(rec.Body.String()), "%s: the body says more than Forbidden", what)
}

func TestSafeMethodsPass(t *testing.T) {
	a := newApp(t, nil, csrf.Options{})
	b := a.browser()
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace} {
		require.Equal(t, http.StatusOK, b.do(method, "/page", nil, nil).Code, "%s without a token", method)
	}
	require.Empty(t, b.cookie, "safe requests created a session (a secret)")
	require.Equal(t, int32(4), a.reached.Load(), "times the handler was reached")
}

func TestMissingTokenRefused(t *testing.T) {
	a := newApp(t, nil, csrf.Options{})
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, "PROPFIND"} {
		a.wantRefused(a.browser().do(method, "/do", nil, nil), method+" without a session or token")
		b := a.browser()
		b.token() // the session has a secret; the request carries no token
		a.wantRefused(b.do(method, "/do", url.Values{"other": {"x"}}, nil), method+" without a token")
		a.wantRefused(b.do(method, "/do", url.Values{"csrf_token": {""}}, hdr("")), method+" with empty tokens")
	}
	require.Zero(t, a.reached.Load(), "the handler ran for a refused request")
}

func TestWrongTokenRefused(t *testing.T) {
	a := newApp(t, nil, csrf.Options{})
	b := a.browser()
	good := b.token()
	raw, err := base64.RawURLEncoding.DecodeString(good)
	require.NoError(t, err)
	flipped := func(i int) string {
		c := append([]byte(nil), raw...)
		c[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(c)
	}
	wrong := map[string]string{
		"random":         base64.RawURLEncoding.EncodeToString(make([]byte, 64)),
		"short":          good[:len(good)-1],
		"long":           good + "A",
		"padded":         base64.URLEncoding.EncodeToString(raw),
		"std alphabet":   strings.NewReplacer("-", "+", "_", "/").Replace(good),
		"not base64":     strings.Repeat("*", len(good)),
		"mask bit":       flipped(0),
		"secret bit":     flipped(63),
		"unmasked bytes": base64.RawURLEncoding.EncodeToString(raw[32:]),
	}
	for name, tok := range wrong {
		if tok == good {
			continue // the std-alphabet variant of a token without - or _
		}
		a.wantRefused(b.do(http.MethodPost, "/do", nil, hdr(tok)), name+" (header)")
		a.wantRefused(b.do(http.MethodPost, "/do", url.Values{"csrf_token": {tok}}, nil), name+" (field)")
	}
	// A token in the URL is never read.
	a.wantRefused(b.do(http.MethodPost, "/do?csrf_token="+url.QueryEscape(good), nil, nil), "token in the query string")
	require.Zero(t, a.reached.Load(), "the handler ran for a refused request")
	require.Equal(t, http.StatusOK, b.do(http.MethodPost, "/do", nil, hdr(good)).Code, "the good token after the wrong ones")
}

// A token of session A with the cookie of session B is refused, whether B
// has a secret or not.
func TestTokenFromAnotherSessionRefused(t *testing.T) {
	a := newApp(t, nil, csrf.Options{})
	alice, mallory := a.browser(), a.browser()
	tokA := mallory.token() // the attacker's own session's token
	alice.do(http.MethodPost, "/login", url.Values{"user": {"alice"}, "csrf_token": {alice.token()}}, nil)
	require.NotEmpty(t, alice.cookie, "alice has no session")
	own := alice.token() // alice's session has a secret for its generation
	a.wantRefused(alice.do(http.MethodPost, "/transfer", nil, hdr(tokA)), "another session's token (header)")
	a.wantRefused(alice.do(http.MethodPost, "/transfer", url.Values{"csrf_token": {tokA}}, nil), "another session's token (field)")

	fresh := a.browser()
	fresh.do(http.MethodPost, "/login", url.Values{"user": {"bob"}, "csrf_token": {fresh.token()}}, nil)
	// bob's session had its secret rotated by the login and has none for
	// the new generation yet.
	a.wantRefused(fresh.do(http.MethodPost, "/transfer", nil, hdr(tokA)), "another session's token, no secret")
	require.Zero(t, a.reached.Load(), "the handler ran for a refused request")
	require.Equal(t, http.StatusOK, alice.do(http.MethodPost, "/transfer", nil, hdr(own)).Code, "alice's own token")
}

func TestCorrectTokenPasses(t *testing.T) {
	for _, opts := range []csrf.Options{{}, {FieldName: "_tok", HeaderName: "X-Token"}} {
		a := newApp(t, nil, opts)
		field, header := "csrf_token", "X-CSRF-Token"
		if opts.FieldName != "" {
			field, header = opts.FieldName, opts.HeaderName
		}
		b := a.browser()
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			require.Equal(t, http.StatusOK, b.do(method, "/do", nil, http.Header{header: {b.token()}}).Code, "%s with the token in %s", method, header)
			rec := b.do(method, "/do", url.Values{field: {b.token()}}, nil)
			if method == http.MethodDelete {
				// net/http parses a form body only for POST, PUT and PATCH.
				a.wantRefused(rec, "DELETE with the token in a form body")
			} else {
				require.Equal(t, http.StatusOK, rec.Code, "%s with the token in field %s", method, field)
			}
		}
		if opts.FieldName != "" {
			a.wantRefused(b.do(http.MethodPost, "/do", url.Values{"csrf_token": {b.token()}}, nil), "the default field name when another is configured")
		}
	}
}

// One secret per session: tokens differ on every call, every one verifies
// on later requests, and reading a token later does not rewrite the cookie.
func TestTokenSurvivesRequests(t *testing.T) {
	a := newApp(t, nil, csrf.Options{})
	b := a.browser()
	first := b.token()
	cookie := b.cookie
	second := b.token()
	require.NotEqual(t, first, second, "two tokens are identical: not masked")
	require.Equal(t, cookie, b.cookie, "a second Token rewrote the session")
	for i, tok := range []string{first, second, first} {
		require.Equal(t, http.StatusOK, b.do(http.MethodPost, "/do", nil, hdr(tok)).Code, "request %d", i)
	}
}

// Login rotates the secret: a token from before the login is refused
// after it; Rotate does the same on demand.
func TestRotation(t *testing.T) {
	a := newApp(t, nil, csrf.Options{})
	b := a.browser()
	before := b.token()
	login := b.do(http.MethodPost, "/login", url.Values{"user": {"alice"}}, hdr(before))
	require.Equal(t, http.StatusOK, login.Code, "login: %s", login.Body)
	a.wantRefused(b.do(http.MethodPost, "/do", nil, hdr(before)), "a token from before login")
	after := b.token()
	require.Equal(t, http.StatusOK, b.do(http.MethodPost, "/do", nil, hdr(after)).Code, "a token from after login")

	// Rotate, outside the middleware's HTTP path: Load and Save.
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Cookie", b.cookie)
	s, err := a.m.Load(req)
	require.NoError(t, err)
	require.NoError(t, csrf.Verify(s, after), "Verify before Rotate")
	require.NoError(t, csrf.Rotate(s))
	require.ErrorIs(t, csrf.Verify(s, after), csrf.ErrTokenInvalid, "Verify after Rotate")
	rec := httptest.NewRecorder()
	require.NoError(t, a.m.Save(rec, req, s))
	for _, c := range rec.Result().Cookies() {
		b.cookie = c.Name + "=" + c.Value
	}
	a.wantRefused(b.do(http.MethodPost, "/do", nil, hdr(after)), "a token from before Rotate")
	require.Equal(t, http.StatusOK, b.do(http.MethodPost, "/do", nil, hdr(b.token())).Code, "a token from after Rotate")
}

func TestVerifyNeverChangesTheSession(t *testing.T) {
	a := newApp(t, nil, csrf.Options{})
	s, err := a.m.Load(httptest.NewRequest(http.MethodGet, "/", nil))
	require.NoError(t, err)
	require.ErrorIs(t, csrf.Verify(s, ""), csrf.ErrTokenMissing, "empty")
	require.ErrorIs(t, csrf.Verify(s, strings.Repeat("A", 86)), csrf.ErrTokenInvalid, "no secret")
	rec := httptest.NewRecorder()
	require.NoError(t, a.m.Save(rec, httptest.NewRequest(http.MethodGet, "/", nil), s))
	require.Empty(t, rec.Header().Values("Set-Cookie"), "Verify changed the session")
}

// A session without a secret cannot get a token once its response has
// started: the secret could not reach the client.
func TestTokenAfterResponseStarted(t *testing.T) {
	key, _ := sealed.GenerateKey()
	keys, _ := sealed.NewKeyring(key)
	m, err := httpx.New(httpx.Config{Keys: keys})
	require.NoError(t, err)
	var tokErr, rotErr error
	var field string
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		f, err := csrf.Field(s)
		assert.NoError(t, err)
		field = string(f)
		io.WriteString(w, "page")
		_, tokErr = csrf.Token(s) // the secret exists: fine
		rotErr = csrf.Rotate(s)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	require.NoError(t, tokErr, "after the body: Token")
	require.ErrorIs(t, rotErr, httpx.ErrResponseStarted, "after the body: Rotate")
	require.True(t, strings.HasPrefix(field, `<input type="hidden" name="csrf_token" value="`), "Field: %q", field)
	require.Len(t, field, len(`<input type="hidden" name="csrf_token" value="">`)+86, "Field")

	h = m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "page")
		_, tokErr = csrf.Token(httpx.FromContext(r.Context()))
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	require.ErrorIs(t, tokErr, httpx.ErrResponseStarted, "first Token after the body")
}

func TestCustomErrorHandler(t *testing.T) {
	var got []error
	a := newApp(t, nil, csrf.Options{ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		got = append(got, err)
		w.WriteHeader(http.StatusTeapot)
	}})
	b := a.browser()
	b.token()
	require.Equal(t, http.StatusTeapot, b.do(http.MethodPost, "/do", nil, nil).Code, "missing")
	require.Equal(t, http.StatusTeapot, b.do(http.MethodPost, "/do", nil, hdr("nope")).Code, "wrong")
	require.Len(t, got, 2, "errors")
	require.ErrorIs(t, got[0], csrf.ErrTokenMissing, "errors %v", got)
	require.ErrorIs(t, got[1], csrf.ErrTokenInvalid, "errors %v", got)
}

// With the store down, a logged-in session cannot be checked: the request
// is refused 503, not 403, and the reason says so.
func TestStoreDown(t *testing.T) {
	var down atomic.Bool
	mem := memstore.New(nil)
	outage := func() error { return fmt.Errorf("test: %w", versioning.ErrStoreUnavailable) }
	store := &mock.Store{
		EpochFunc: func(ctx context.Context, u string) (uint64, error) {
			if down.Load() {
				return 0, outage()
			}
			return mem.Epoch(ctx, u)
		},
		RevokeFunc: mem.Revoke,
		LookupFunc: func(ctx context.Context, u string, id codec.SessionID) (versioning.SessionState, error) {
			if down.Load() {
				return versioning.SessionState{}, outage()
			}
			return mem.Lookup(ctx, u, id)
		},
	}
	a := newApp(t, store, csrf.Options{})
	b := a.browser()
	b.do(http.MethodPost, "/login", url.Values{"user": {"alice"}, "csrf_token": {b.token()}}, nil)
	tok := b.token()
	down.Store(true)
	rec := b.do(http.MethodPost, "/do", nil, hdr(tok))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, "store down: %q", rec.Body)
	require.Equal(t, "Service Unavailable", strings.TrimSpace(rec.Body.String()), "store down")
	down.Store(false)
	require.Equal(t, http.StatusOK, b.do(http.MethodPost, "/do", nil, hdr(tok)).Code, "store back")
}

// Protect outside the session middleware is a wiring mistake: an unsafe
// request panics rather than passing unchecked.
func TestProtectOutsideWrapPanics(t *testing.T) {
	a := newApp(t, nil, csrf.Options{})
	h := csrf.Protect(a.m, csrf.Options{})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		assert.Fail(t, "the handler ran")
	}))
	defer func() {
		require.NotNil(t, recover(), "no panic")
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", nil))
}

// TestBearerRequestsPass: a request whose session travels as a Bearer
// token needs no CSRF token (browsers never send one by themselves).
func TestBearerRequestsPass(t *testing.T) {
	k, err := sealed.GenerateKey()
	require.NoError(t, err)
	ring, _ := sealed.NewKeyring(k)
	m, err := httpx.New(httpx.Config{Keys: ring, AllowBearer: true})
	require.NoError(t, err)
	h := m.Wrap(csrf.Protect(m, csrf.Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		if r.URL.Path == "/login" {
			_ = s.UseToken()
			_ = s.Login("api")
		}
		fmt.Fprint(w, "ok ", s.UserID())
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
	tok := rec.Header().Get(httpx.TokenHeader)
	require.NotEmpty(t, tok, "no token")
	req := httptest.NewRequest("POST", "/change", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, "bearer POST: %q", rec.Body.String())
	require.Equal(t, "ok api", rec.Body.String(), "bearer POST")
	// The same POST with a cookie session and no CSRF token is refused.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/change", nil))
	require.Equal(t, http.StatusForbidden, rec.Code, "cookie POST without a token")
}
