package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/sealed"
)

// FuzzCookieHeader sends arbitrary Cookie headers (and bearer tokens)
// through the middleware. Whatever arrives, nothing panics and the handler
// gets a session; only values this Manager sealed can come back
// authenticated.
func FuzzCookieHeader(f *testing.F) {
	key, _ := sealed.NewKey(make([]byte, 32))
	ring, _ := sealed.NewKeyring(key)
	m, err := httpx.New(httpx.Config{Keys: ring, AllowBearer: true})
	require.NoError(f, err)
	// Seeds: a real single cookie, a real chunked pair, and broken variants.
	mk := func(n int) string {
		rr := httptest.NewRecorder()
		m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := httpx.FromContext(r.Context())
			_ = s.Login("fuzz")
			_ = blobKey.Set(s, []byte(strings.Repeat("z", n)))
		})).ServeHTTP(rr, httptest.NewRequest("GET", "/", nil))
		var parts []string
		for _, c := range rr.Result().Cookies() {
			parts = append(parts, c.Name+"="+c.Value)
		}
		return strings.Join(parts, "; ")
	}
	single, chunked := mk(10), mk(5000)
	f.Add(single, "")
	f.Add(chunked, "")
	f.Add(strings.ReplaceAll(chunked, "__Host-session-1", "__Host-session-2"), "")
	f.Add("__Host-session=; __Host-session=", "")
	f.Add("a=b; __Host-session-1=x", "")
	f.Add("", "Bearer "+strings.TrimPrefix(single, "__Host-session="))
	f.Add("__Host-session=\"quoted\"", "bearer")

	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		if s.Authenticated() && s.UserID() != "fuzz" {
			panic("a session nobody sealed was accepted: user " + s.UserID())
		}
		_, _ = blobKey.Get(s)
		_, _ = codec.NewKey[map[string]int]("blob").Lookup(s)
	}))
	f.Fuzz(func(t *testing.T, cookie, authz string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Cookie", cookie)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, req)
		if rr.Code != 200 {
			t.Fatalf("status %d for a client-controlled header", rr.Code)
		}
	})
}
