package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/versioning/legacy"
	"github.com/sealedsession/sealedsession/versioning/memstore"
)

var (
	legacyHash  = []byte(strings.Repeat("h", 32))
	legacyBlock = []byte(strings.Repeat("b", 32))
)

// gorillaCookie is a cookie as the old application, on gorilla/sessions,
// issued it.
func gorillaCookie(t *testing.T, user, note string) string {
	t.Helper()
	old := sessions.NewCookieStore(legacyHash, legacyBlock)
	rr := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	gs, _ := old.Get(req, "oldsess")
	if user != "" {
		gs.Values["user"] = user
	}
	gs.Values["note"] = note
	require.NoError(t, gs.Save(req, rr))
	return "oldsess=" + rr.Result().Cookies()[0].Value
}

func legacyReader(t *testing.T) *legacy.Reader {
	t.Helper()
	reader, err := legacy.NewReader(legacy.Options{
		CookieName: "oldsess", AllowUnprefixedName: true, HashKey: legacyHash, BlockKey: legacyBlock,
		Path: "/", Domain: "example.com",
		Map: func(v map[any]any, p *codec.Payload) error {
			if u, ok := v["user"].(string); ok {
				p.Header().UserID = u
			}
			if n, ok := v["note"].(string); ok {
				return noteKey.Set(p, n)
			}
			return nil
		},
	})
	require.NoError(t, err)
	return reader
}

// legacyResult splits a response into the new session's cookies and
// whether it cleared the legacy cookie with its Domain.
func legacyResult(resp *http.Response) (fresh string, clearedOld bool) {
	var pairs []string
	for _, l := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(l, "oldsess=;") && strings.Contains(l, "Domain=example.com") && strings.Contains(l, "Max-Age=0") {
			clearedOld = true
		}
	}
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, "__Host-session") && c.Value != "" {
			pairs = append(pairs, c.Name+"="+c.Value)
		}
	}
	return strings.Join(pairs, "; "), clearedOld
}

func TestLegacyGorillaMigration(t *testing.T) {
	store := memstore.New(nil)
	e := newEnv(t, func(c *httpx.Config) {
		c.Legacy = legacyReader(t)
		c.Store = store
		c.Tracking = &httpx.Tracking{MaxPerUser: 1, OnLimit: httpx.RefuseNewLogin}
	})
	old := gorillaCookie(t, "olivia", "from gorilla")
	resp, body := rawGet(t, e.srv, "/whoami", old)
	assert.Equal(t, "user=olivia note=from gorilla gen=1", body)
	fresh, cleared := legacyResult(resp)
	require.NotEmpty(t, fresh, "no new cookie: %q", resp.Header.Values("Set-Cookie"))
	assert.True(t, cleared, "legacy cookie not cleared with its Domain: %q", resp.Header.Values("Set-Cookie"))
	assert.Equal(t, []httpx.EventKind{httpx.EventMigrated}, e.rec.kinds())

	// The import went through Login: the session is tracked (and counts
	// against the limit of one).
	sessions, err := e.m.Sessions(t.Context(), "olivia")
	require.NoError(t, err)
	assert.Len(t, sessions, 1)

	// The re-issued session works on its own.
	_, body = rawGet(t, e.srv, "/whoami", fresh)
	assert.Equal(t, "user=olivia note=from gorilla gen=1", body)

	// A replay of the captured legacy cookie is refused: imported at most once.
	e.rec.reset()
	resp, body = rawGet(t, e.srv, "/whoami", old)
	assert.Equal(t, "user= note= gen=0", body)
	assert.Equal(t, []string{"legacy_invalid"}, e.rec.reasons())
	_, cleared = legacyResult(resp)
	assert.True(t, cleared)

	// ForceLogout ends the migrated session, and no legacy cookie of that
	// user is imported afterwards (every one predates the bump).
	require.NoError(t, e.m.ForceLogout(t.Context(), "olivia"))
	_, body = rawGet(t, e.srv, "/whoami", fresh)
	assert.Equal(t, "user= note= gen=0", body)
	_, body = rawGet(t, e.srv, "/whoami", gorillaCookie(t, "olivia", "another copy"))
	assert.Equal(t, "user= note= gen=0", body, "a legacy cookie was imported after ForceLogout")

	// LogoutAll (a global bump) ends the import for everyone.
	require.NoError(t, e.m.LogoutAll(t.Context()))
	_, body = rawGet(t, e.srv, "/whoami", gorillaCookie(t, "peter", "x"))
	assert.Equal(t, "user= note= gen=0", body, "a legacy cookie was imported after LogoutAll")

	// An anonymous legacy session carries no privilege: its values are
	// served, and nothing is stored for it however often it comes.
	before := storeSize(store)
	for range 20 {
		_, body = rawGet(t, e.srv, "/whoami", gorillaCookie(t, "", "cart"))
		require.Equal(t, "user= note=cart gen=0", body)
	}
	assert.Equal(t, before, storeSize(store), "anonymous legacy cookies grew the store")

	// A tampered legacy cookie is refused and cleared.
	e.rec.reset()
	bad := old[:len(old)-4] + "AAAA"
	resp, body = rawGet(t, e.srv, "/whoami", bad)
	assert.Equal(t, "user= note= gen=0", body)
	assert.Equal(t, []string{"legacy_invalid"}, e.rec.reasons())
	_, cleared = legacyResult(resp)
	assert.True(t, cleared)
}

// TestLegacyImportRespectsSessionLimit: under MaxPerUser=1 and
// RefuseNewLogin, a legacy cookie of a user who already has a session is
// refused like a login would be.
func TestLegacyImportRespectsSessionLimit(t *testing.T) {
	e := newEnv(t, func(c *httpx.Config) {
		c.Legacy = legacyReader(t)
		c.Tracking = &httpx.Tracking{MaxPerUser: 1, OnLimit: httpx.RefuseNewLogin}
	})
	c := newClient(t, e.srv)
	c.post("/login", "u", "quinn")
	_, body := rawGet(t, e.srv, "/whoami", gorillaCookie(t, "quinn", "old"))
	assert.Equal(t, "user= note=old gen=0", body, "the import went past the session limit")
	sessions, err := e.m.Sessions(t.Context(), "quinn")
	require.NoError(t, err)
	assert.Len(t, sessions, 1)
}
