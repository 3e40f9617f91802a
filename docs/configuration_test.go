package docs_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/memstore"
)

// fullConfig is the overview snippet of docs/configuration.md.
func fullConfig(keys *sealed.Keyring, store versioning.Store) (*httpx.Manager, error) {
	// docs:begin config-groups
	m, err := httpx.New(httpx.Config{
		Keys:         keys,                  // required
		Store:        store,                 // default: in-memory, one process only
		OnStoreError: versioning.FailClosed, // the default
		Policy: versioning.Policy{ // the defaults, written out
			IdleTimeout:     30 * time.Minute,
			AbsoluteTimeout: 24 * time.Hour,
		},
		Cookie: httpx.CookieConfig{ // the group's zero value: __Host-session, Lax, 2816-byte budget
			SameSite: http.SameSiteLaxMode,
		},
		Observer: httpx.NewSlogObserver(logger),
		Tracking: &httpx.Tracking{MaxPerUser: 10}, // nil: no tracking
	})
	// docs:end
	return m, err
}

// docs:begin config-expired
func account(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	if !s.Authenticated() {
		if errors.Is(s.Rejected(), versioning.ErrIdleExpired) {
			http.Redirect(w, r, "/login?expired=1", http.StatusSeeOther) // "your session expired"
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	// ...
}

// docs:end

// docs:begin config-remember
func login(w http.ResponseWriter, r *http.Request) {
	s := httpx.FromContext(r.Context())
	if err := s.Login(r.FormValue("user")); err != nil { // after checking the password
		http.Error(w, "login failed", http.StatusServiceUnavailable)
		return
	}
	if r.FormValue("remember") == "on" {
		_ = s.Remember(30 * 24 * time.Hour) // persistent cookie, never past the absolute timeout
	} else {
		_ = s.Remember(0) // a browser-session cookie
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// docs:end

// sharedDomain is the Domain snippet.
func sharedDomain(keys *sealed.Keyring, store versioning.Store) (*httpx.Manager, error) {
	// docs:begin config-domain
	m, err := httpx.New(httpx.Config{
		Keys:   keys,
		Store:  store,
		Cookie: httpx.CookieConfig{Domain: "example.com"}, // app.example.com and shop.example.com; name __Secure-session
	})
	// docs:end
	return m, err
}

func TestConfigurationSnippets(t *testing.T) {
	keys := newKeys(t)
	_, err := fullConfig(keys, memstore.New(nil))
	require.NoError(t, err)
	m, err := sharedDomain(keys, memstore.New(nil))
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	m.Wrap(http.HandlerFunc(login)).ServeHTTP(rec, httptest.NewRequest("POST", "/login?user=alice&remember=on", nil))
	c := rec.Header().Get("Set-Cookie")
	require.True(t, strings.HasPrefix(c, "__Secure-session="), "Set-Cookie: %s", c)
	require.Contains(t, c, "Domain=example.com", "Set-Cookie")
	require.Contains(t, c, "Max-Age=86400", "Set-Cookie")

	// An idled-out session reaches the handler as "expired".
	now := time.Now()
	m, err = httpx.New(httpx.Config{Keys: keys, Policy: versioning.Policy{Now: func() time.Time { return now }}})
	require.NoError(t, err)
	rec = httptest.NewRecorder()
	m.Wrap(http.HandlerFunc(login)).ServeHTTP(rec, httptest.NewRequest("POST", "/login?user=alice", nil))
	now = now.Add(time.Hour)
	req := httptest.NewRequest("GET", "/account", nil)
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	rec = httptest.NewRecorder()
	m.Wrap(http.HandlerFunc(account)).ServeHTTP(rec, req)
	require.Equal(t, "/login?expired=1", rec.Header().Get("Location"), "where the expired session is redirected")
}
