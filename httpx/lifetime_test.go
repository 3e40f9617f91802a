package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/versioning"
)

// serve runs one request through m with handler fn and returns the
// response; cookie is the request's Cookie header ("" for none).
func serve(t *testing.T, m *httpx.Manager, cookie string, fn func(s *httpx.Session)) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", "/", nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	rec := httptest.NewRecorder()
	m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn(httpx.FromContext(r.Context()))
	})).ServeHTTP(rec, req)
	return rec.Result()
}

func pairs(res *http.Response) string {
	var out []string
	for _, c := range res.Cookies() {
		if c.MaxAge >= 0 {
			out = append(out, c.Name+"="+c.Value)
		}
	}
	return strings.Join(out, "; ")
}

func TestCookieLifetime(t *testing.T) {
	clk := newClock()
	newM := func(browser bool) *httpx.Manager {
		m, err := httpx.New(httpx.Config{Keys: newRing(t), Cookie: httpx.CookieConfig{BrowserSession: browser},
			Policy: versioning.Policy{Now: clk.Now, IdleTimeout: 8 * time.Hour, AbsoluteTimeout: 24 * time.Hour}})
		require.NoError(t, err)
		return m
	}
	login := func(remember time.Duration, set bool) func(s *httpx.Session) {
		return func(s *httpx.Session) {
			require.NoError(t, s.Login("alice"))
			if set {
				require.NoError(t, s.Remember(remember))
			}
		}
	}
	for _, tc := range []struct {
		name     string
		browser  bool
		remember time.Duration
		set      bool
		want     string // the Max-Age attribute, "" for none
	}{
		{"persistent default", false, 0, false, "Max-Age=86400"},
		{"browser-session default", true, 0, false, ""},
		{"remember 7 days is bounded by the absolute timeout", true, 7 * 24 * time.Hour, true, "Max-Age=86400"},
		{"remember 1 hour", true, time.Hour, true, "Max-Age=3600"},
		{"do not remember", false, 0, true, ""},
		{"back to the default", true, -1, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newM(tc.browser)
			res := serve(t, m, "", login(tc.remember, tc.set))
			line := res.Header.Get("Set-Cookie")
			require.NotEmpty(t, line)
			if tc.want == "" {
				assert.NotContains(t, line, "Max-Age", line)
				assert.NotContains(t, line, "Expires", line)
			} else {
				assert.Contains(t, line, "; "+tc.want+";")
			}
			// The choice is sealed in the session: a renewal keeps it.
			clk.Advance(2 * time.Minute)
			res2 := serve(t, m, pairs(res), func(s *httpx.Session) { require.Equal(t, "alice", s.UserID()) })
			line2 := res2.Header.Get("Set-Cookie")
			require.NotEmpty(t, line2, "no renewal")
			assert.Equal(t, strings.Contains(line, "Max-Age"), strings.Contains(line2, "Max-Age"), "renewal changed the lifetime: %q then %q", line, line2)
		})
	}
}

// TestIdleExpiryIsReported: by default the cookie outlives the idle
// deadline, so the application sees "idle_expired" once, and the cookie is
// cleared on that response.
func TestIdleExpiryIsReported(t *testing.T) {
	e := newEnv(t, nil)
	res := serve(t, e.m, "", func(s *httpx.Session) { require.NoError(t, s.Login("ann")) })
	cookie := pairs(res)
	e.clk.Advance(31 * time.Minute)
	var rejected error
	res = serve(t, e.m, cookie, func(s *httpx.Session) { rejected = s.Rejected() })
	assert.ErrorIs(t, rejected, versioning.ErrIdleExpired)
	cleared := false
	for _, c := range res.Cookies() {
		if c.Name == "__Host-session" && c.MaxAge < 0 {
			cleared = true
		}
	}
	assert.True(t, cleared, "the expired cookie was not cleared: %q", res.Header.Values("Set-Cookie"))
}

func TestCookieDomainAndPath(t *testing.T) {
	ring := newRing(t)
	for name, ck := range map[string]httpx.CookieConfig{
		"domain with __Host-": {Name: "__Host-s", Domain: "example.com"},
		"path with __Host-":   {Name: "__Host-s", Path: "/app"},
		"no prefix":           {Name: "s", Domain: "example.com"},
		"bad domain":          {Domain: "example.com; Secure"},
		"bad path":            {Path: "app"},
		"path with ;":         {Path: "/a;b"},
	} {
		_, err := httpx.New(httpx.Config{Keys: ring, Cookie: ck})
		assert.ErrorIs(t, err, httpx.ErrConfig, name)
	}
	m, err := httpx.New(httpx.Config{Keys: ring, Cookie: httpx.CookieConfig{Domain: "example.com", Path: "/app"}})
	require.NoError(t, err)
	assert.Equal(t, "__Secure-session", m.CookieName())
	res := serve(t, m, "", func(s *httpx.Session) { require.NoError(t, s.Login("bo")) })
	line := res.Header.Get("Set-Cookie")
	for _, want := range []string{"__Secure-session=", "; Path=/app", "; Domain=example.com", "; Secure", "; HttpOnly"} {
		assert.Contains(t, line, want)
	}
	res = serve(t, m, pairs(res), func(s *httpx.Session) {
		require.Equal(t, "bo", s.UserID())
		require.NoError(t, s.Logout())
	})
	for _, l := range res.Header.Values("Set-Cookie") {
		assert.Contains(t, l, "; Path=/app; Domain=example.com; Max-Age=0", "a clearing line must carry the cookie's Domain and Path")
	}
}

// TestUseToken: an API client starts a token session with a plain
// request: no rejection, no cookie, a Session-Token it then presents.
func TestUseToken(t *testing.T) {
	e := newEnv(t, func(c *httpx.Config) { c.AllowBearer = true })
	res := serve(t, e.m, "", func(s *httpx.Session) {
		require.NoError(t, s.UseToken())
		require.NoError(t, s.Login("api-client"))
	})
	assert.Empty(t, res.Header.Values("Set-Cookie"))
	tok := res.Header.Get(httpx.TokenHeader)
	require.NotEmpty(t, tok)
	assert.Empty(t, e.rec.reasons(), "starting a token session logged a rejection")

	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	s, err := e.m.Load(req)
	require.NoError(t, err)
	assert.Equal(t, "api-client", s.UserID())

	// Without AllowBearer there is no token to switch to.
	plain := newEnv(t, nil)
	serve(t, plain.m, "", func(s *httpx.Session) { assert.ErrorIs(t, s.UseToken(), httpx.ErrConfig) })
}
