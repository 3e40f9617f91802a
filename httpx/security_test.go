package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/versioning"
)

// Regression tests for the edges the attack review of c02bc3f found in
// httpx (issue 14); each failed there.

// serveWith runs one request with cookie, client address ip and agent ua.
func serveWith(t *testing.T, m *httpx.Manager, cookie, ip, ua string, fn func(w http.ResponseWriter, s *httpx.Session)) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", "/", nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	req.Header.Set("X-Test-IP", ip)
	req.Header.Set("User-Agent", ua)
	rec := httptest.NewRecorder()
	m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn(w, httpx.FromContext(r.Context()))
	})).ServeHTTP(rec, req)
	return rec.Result()
}

// Item 6: every response served with a logged-in session keeps shared
// caches out, even when it does not rewrite the cookie; a handler's own
// Cache-Control is left alone.
func TestAuthenticatedResponsesArePrivate(t *testing.T) {
	e := newEnv(t, nil)
	res := serve(t, e.m, "", func(s *httpx.Session) { require.NoError(t, s.Login("cc")) })
	cookie := pairs(res)
	res = serve(t, e.m, cookie, func(s *httpx.Session) { require.Equal(t, "cc", s.UserID()) })
	require.Empty(t, res.Header.Values("Set-Cookie"), "a read should not rewrite the cookie")
	assert.Equal(t, "private", res.Header.Get("Cache-Control"))
	assert.Equal(t, "Cookie", res.Header.Get("Vary"))
	res = serveWith(t, e.m, cookie, "", "", func(w http.ResponseWriter, s *httpx.Session) {
		w.Header().Set("Cache-Control", "no-store")
	})
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	// Anonymous pages stay cacheable.
	res = serve(t, e.m, "", func(s *httpx.Session) {})
	assert.Empty(t, res.Header.Get("Cache-Control"))
}

// Item 7: ClientChangeReauthenticate gives the cookie thief a fresh empty
// session: none of the victim's values.
func TestReauthenticateDropsValues(t *testing.T) {
	e := newEnv(t, func(c *httpx.Config) {
		c.Binding = httpx.ClientBinding{ClientIP: testIP, OnChange: httpx.ClientChangeReauthenticate}
	})
	res := serveWith(t, e.m, "", "192.0.2.10", "Victim/1", func(_ http.ResponseWriter, s *httpx.Session) {
		require.NoError(t, s.Login("victim"))
		require.NoError(t, noteKey.Set(s, "the victim's secret"))
	})
	stolen := pairs(res)
	var note string
	var user string
	serveWith(t, e.m, stolen, "203.0.113.5", "Thief/1", func(_ http.ResponseWriter, s *httpx.Session) {
		note, _ = noteKey.Get(s)
		user = s.UserID()
	})
	assert.Empty(t, user)
	assert.Empty(t, note, "the thief got the victim's values")
	// And the stolen session is revoked: the victim signs in again.
	serveWith(t, e.m, stolen, "192.0.2.10", "Victim/1", func(_ http.ResponseWriter, s *httpx.Session) {
		assert.ErrorIs(t, s.Rejected(), versioning.ErrRevoked)
	})
}

// Item 8: an unknown client address (a missing or garbled proxy header)
// counts as a change under the strict actions; under Report it does not.
func TestUnknownAddressUnderStrictBinding(t *testing.T) {
	for _, tc := range []struct {
		action httpx.ClientChangeAction
		served bool
	}{
		{httpx.ClientChangeReport, true},
		{httpx.ClientChangeRefuse, false},
		{httpx.ClientChangeReauthenticate, false},
	} {
		e := newEnv(t, func(c *httpx.Config) {
			c.Binding = httpx.ClientBinding{ClientIP: testIP, OnChange: tc.action}
		})
		res := serveWith(t, e.m, "", "192.0.2.10", "UA", func(_ http.ResponseWriter, s *httpx.Session) {
			require.NoError(t, s.Login("ulla"))
		})
		var user string
		serveWith(t, e.m, pairs(res), "not an address", "UA", func(_ http.ResponseWriter, s *httpx.Session) {
			user = s.UserID()
		})
		assert.Equal(t, tc.served, user == "ulla", "action %d", tc.action)
	}
}

// Item 13: RevokeSession only ends a session of the user it names.
func TestRevokeSessionChecksOwner(t *testing.T) {
	e := newEnv(t, func(c *httpx.Config) { c.Tracking = &httpx.Tracking{} })
	res := serve(t, e.m, "", func(s *httpx.Session) { require.NoError(t, s.Login("owner")) })
	cookie := pairs(res)
	sessions, err := e.m.Sessions(t.Context(), "owner")
	require.NoError(t, err)
	require.Len(t, sessions, 1)
	err = e.m.RevokeSession(t.Context(), "someone-else", sessions[0].ID)
	assert.ErrorIs(t, err, httpx.ErrUnknownSession)
	serve(t, e.m, cookie, func(s *httpx.Session) {
		assert.Equal(t, "owner", s.UserID(), "another user's RevokeSession ended the session")
	})
	require.NoError(t, e.m.RevokeSession(t.Context(), "owner", sessions[0].ID))
	e.clk.Advance(time.Second)
	serve(t, e.m, cookie, func(s *httpx.Session) { assert.ErrorIs(t, s.Rejected(), versioning.ErrRevoked) })
}
