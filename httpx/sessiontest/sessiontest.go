// Package sessiontest helps test handlers that use sealed sessions,
// without logging in over HTTP and copying cookies by hand.
//
// Request builds a request that carries a session set up in Go (a user,
// typed values), sealed by the same Manager the handler under test uses;
// Result reads back the session a response set, as that Manager would read
// it on the next request:
//
//	req := sessiontest.Request(t, m, httptest.NewRequest("GET", "/cart", nil), func(s *httpx.Session) error {
//		if err := s.Login("alice"); err != nil {
//			return err
//		}
//		return cartKey.Set(s, Cart{Items: 2})
//	})
//	rec := httptest.NewRecorder()
//	m.Wrap(handler).ServeHTTP(rec, req)
//	s := sessiontest.Result(t, m, rec.Result())
//	cart, _ := cartKey.Get(s)
//
// Everything goes through the public API of package httpx, so what a test
// sees is what a browser would get.
package sessiontest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sealedsession/sealedsession/httpx"
)

// Request returns a clone of r that carries the session setup builds. The
// session starts as the one r already carries (none, usually); setup
// changes it as a handler would (Login, Key.Set, AddFlash...), and the
// cookies m writes for it replace any session cookies r had. A setup
// error, or a session m refuses to save, fails the test.
func Request(tb testing.TB, m *httpx.Manager, r *http.Request, setup func(s *httpx.Session) error) *http.Request {
	tb.Helper()
	out, err := NewRequest(m, r, setup)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// NewRequest is Request returning an error instead of failing a test.
func NewRequest(m *httpx.Manager, r *http.Request, setup func(s *httpx.Session) error) (*http.Request, error) {
	var setupErr error
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		setupErr = setup(m.FromContext(req.Context()))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r.Clone(r.Context()))
	if setupErr != nil {
		return nil, fmt.Errorf("sessiontest: setup: %w", setupErr)
	}
	res := rec.Result()
	if res.StatusCode >= 400 {
		return nil, fmt.Errorf("sessiontest: the session could not be saved: %s", res.Status)
	}
	out := r.Clone(r.Context())
	withCookies(out, m, res.Cookies())
	return out, nil
}

// Result returns the session a response leaves the client with, read by m
// as on the client's next request: the one the response set, or, when it
// set none, the one res.Request carried (if res.Request is set). A
// response that cleared the session gives a new anonymous one (IsNew
// reports true). A store outage fails the test.
func Result(tb testing.TB, m *httpx.Manager, res *http.Response) *httpx.Session {
	tb.Helper()
	s, err := ReadResult(m, res)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// ReadResult is Result returning an error instead of failing a test.
func ReadResult(m *httpx.Manager, res *http.Response) (*httpx.Session, error) {
	next := httptest.NewRequest(http.MethodGet, "/", nil)
	if res.Request != nil {
		next.Header["Cookie"] = res.Request.Header["Cookie"]
	}
	withCookies(next, m, res.Cookies())
	s, err := m.Load(next)
	if err != nil {
		return nil, fmt.Errorf("sessiontest: load: %w", err)
	}
	return s, nil
}

// withCookies applies cookies as a browser would to r's Cookie header:
// the session's names (every chunk) are replaced by the ones set, and
// cleared ones (Max-Age=0) dropped; other cookies are kept.
func withCookies(r *http.Request, m *httpx.Manager, set []*http.Cookie) {
	base := m.CookieName()
	ours := func(name string) bool { return name == base || strings.HasPrefix(name, base+"-") }
	touched := false
	for _, c := range set {
		if ours(c.Name) {
			touched = true
		}
	}
	if !touched {
		return
	}
	var pairs []string
	for _, c := range r.Cookies() {
		if !ours(c.Name) {
			pairs = append(pairs, c.Name+"="+c.Value)
		}
	}
	for _, c := range set {
		if ours(c.Name) && c.MaxAge >= 0 && c.Value != "" {
			pairs = append(pairs, c.Name+"="+c.Value)
		}
	}
	r.Header.Del("Cookie")
	if len(pairs) > 0 {
		r.Header.Set("Cookie", strings.Join(pairs, "; "))
	}
}
