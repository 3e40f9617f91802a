package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/memstore"
)

// Regression tests for changes that used to be lost without a word: each
// failed on c02bc3f (the call returned nil and nothing reached the client).

// TestChangeAfterResponseStarted: once the handler has written its body,
// every call that would change the session returns ErrResponseStarted,
// changes nothing (no revocation, no tracking entry, no value), and an
// EventSaveFailed reports it.
func TestChangeAfterResponseStarted(t *testing.T) {
	changes := map[string]func(s *httpx.Session) error{
		"Set":        func(s *httpx.Session) error { return noteKey.Set(s, "late") },
		"Delete":     func(s *httpx.Session) error { return noteKey.Delete(s) },
		"AddFlash":   func(s *httpx.Session) error { return s.AddFlash("late") },
		"Login":      func(s *httpx.Session) error { return s.Login("mallory") },
		"Logout":     func(s *httpx.Session) error { return s.Logout() },
		"Regenerate": func(s *httpx.Session) error { return s.Regenerate() },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			clk := newClock()
			store := memstore.New(nil)
			rec := &recorder{}
			m, err := httpx.New(httpx.Config{Keys: newRing(t), Store: store, Observer: rec,
				Policy: versioning.Policy{Now: clk.Now}, Tracking: &httpx.Tracking{}})
			require.NoError(t, err)
			var lateErr error
			mux := http.NewServeMux()
			mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
				s := httpx.FromContext(r.Context())
				assert.NoError(t, s.Login("alice"))
				assert.NoError(t, noteKey.Set(s, "before"))
			})
			mux.HandleFunc("POST /late", func(w http.ResponseWriter, r *http.Request) {
				s := httpx.FromContext(r.Context())
				fmt.Fprint(w, "body first") // the response starts here
				lateErr = change(s)
			})
			mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
				s := httpx.FromContext(r.Context())
				note, _ := noteKey.Get(s)
				fmt.Fprintf(w, "user=%s note=%s", s.UserID(), note)
			})
			srv := httptest.NewTLSServer(m.Wrap(mux))
			defer srv.Close()
			c := newClient(t, srv)
			c.post("/login")
			before := cookieHeader(c.cookies())
			sessions, err := m.Sessions(t.Context(), "alice")
			require.NoError(t, err)
			rec.reset()

			resp, body := c.post("/late")
			assert.Equal(t, "body first", body)
			assert.ErrorIs(t, lateErr, httpx.ErrResponseStarted)
			assert.Empty(t, resp.Header.Values("Set-Cookie"))
			assert.Equal(t, before, cookieHeader(c.cookies()))
			assert.Zero(t, storeRevocations(store), "a late call revoked a session ID")
			after, err := m.Sessions(t.Context(), "alice")
			require.NoError(t, err)
			assert.Len(t, after, len(sessions), "a late call changed the tracked sessions")
			m2, _ := m.Sessions(t.Context(), "mallory")
			assert.Empty(t, m2, "a late Login tracked a session that never reached the browser")
			var failed []string
			for _, ev := range rec.all() {
				if ev.Kind == httpx.EventSaveFailed {
					failed = append(failed, httpx.ReasonLabel(ev.Reason))
				}
			}
			assert.Equal(t, []string{"response_started"}, failed)
			assert.Equal(t, "user=alice note=before", c.get("/whoami"), "the session changed")
		})
	}
}

// TestAddFlashOverBudget: a flash message that does not fit is refused
// with a *SizeError and the session stays as it was.
func TestAddFlashOverBudget(t *testing.T) {
	e := newEnv(t, nil)
	var err error
	var queued []string
	h := e.m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		require.NoError(t, s.AddFlash("small"))
		err = s.AddFlash(strings.Repeat("x", 9000))
		queued = s.Flashes()
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	var se *httpx.SizeError
	require.ErrorAs(t, err, &se)
	assert.ErrorIs(t, err, httpx.ErrTooLarge)
	assert.Equal(t, httpx.LimitHeaderBytes, se.Limit)
	assert.Greater(t, se.Over(), 6000)
	assert.Equal(t, []string{"small"}, queued)
}

// revokeDown is a store whose Revoke fails as if it were down, while
// reads work.
type revokeDown struct{ versioning.Store }

func (revokeDown) Revoke(context.Context, string, codec.SessionID, time.Time) error {
	return &versioning.StoreError{Op: "revoke", Err: errors.New("connection refused")}
}

// TestLogoutStoreDown: Logout whose revocation fails returns an error
// matching ErrStoreUnavailable and changes nothing: the cookie is not
// cleared, so nobody believes a copy of it is dead.
func TestLogoutStoreDown(t *testing.T) {
	store := memstore.New(nil)
	e := newEnv(t, func(c *httpx.Config) { c.Store = revokeDown{store} })
	c := newClient(t, e.srv)
	c.post("/note", "v", "kept")
	c.post("/login", "u", "rita")
	before := cookieHeader(c.cookies())
	resp, body := c.post("/logout")
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Contains(t, body, "store")
	assert.Empty(t, resp.Header.Values("Set-Cookie"), "the cookie was cleared although nothing was revoked")
	assert.Equal(t, before, cookieHeader(c.cookies()))
	assert.Equal(t, "user=rita note=kept gen=1", c.get("/whoami"))

	var logoutErr error
	h := e.m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logoutErr = httpx.FromContext(r.Context()).Logout()
	}))
	req := httptest.NewRequest("POST", "/logout", nil)
	req.Header.Set("Cookie", before)
	h.ServeHTTP(httptest.NewRecorder(), req)
	assert.ErrorIs(t, logoutErr, versioning.ErrStoreUnavailable)
}

// TestTrackedSessionTouchedOnUse: a session that changes a value every
// minute (so it is re-sealed every minute and never "renewed") keeps its
// tracked entry fresh: after more than the idle timeout of such use it
// still holds its slot under RefuseNewLogin and is listed with a recent
// LastSeen.
func TestTrackedSessionTouchedOnUse(t *testing.T) {
	forEachStore(t, func(t *testing.T, st trackStore) {
		clk := newClock()
		e := newTrackEnv(t, st.open(t, clk), clk, newRing(t), func(c *httpx.Config) {
			c.Tracking.MaxPerUser = 1
			c.Tracking.OnLimit = httpx.RefuseNewLogin
			c.Policy.IdleTimeout = 10 * time.Minute
		})
		busy := e.device(t, "192.0.2.10", "A")
		busy.mustLogin("alice")
		for i := range 40 {
			clk.Advance(time.Minute)
			code, body := busy.do("POST", "/note", fmt.Sprintf("v=%d", i))
			require.Equal(t, 200, code, body)
		}
		assert.Equal(t, "user=alice", busy.whoami())
		code, _ := e.device(t, "198.51.100.1", "B").login("alice")
		assert.Equal(t, http.StatusForbidden, code, "the busy session lost its slot")
		sessions, err := e.m.Sessions(t.Context(), "alice")
		require.NoError(t, err)
		require.Len(t, sessions, 1)
		assert.WithinDuration(t, clk.Now(), sessions[0].LastSeen, e.m.Policy().RenewThreshold+time.Minute)
	})
}

// TestCreatedEventAfterID: a new session whose ID the handler asked for
// before it was saved is still reported as created.
func TestCreatedEventAfterID(t *testing.T) {
	e := newEnv(t, nil)
	h := e.m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		_ = s.Tag()
		require.NoError(t, noteKey.Set(s, "x"))
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, []httpx.EventKind{httpx.EventCreated}, e.rec.kinds())
}

// TestAnonymousClientsStoreNothing: nothing an unauthenticated client does
// writes to the store: thousands of anonymous sessions created, changed,
// regenerated, logged out, replayed after logout, tampered with, sent as
// tokens, or brought in as anonymous legacy cookies.
func TestAnonymousClientsStoreNothing(t *testing.T) {
	store := memstore.New(nil)
	e := newEnv(t, func(c *httpx.Config) {
		c.Store = store
		c.AllowBearer = true
		c.Legacy = legacyReader(t)
	})
	regen := e.m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		require.NoError(t, noteKey.Set(s, "x"))
		require.NoError(t, s.Regenerate())
	}))
	anonLegacy := gorillaCookie(t, "", "cart")
	for i := range 2000 {
		c := newClient(t, e.srv)
		c.post("/note", "v", fmt.Sprint("cart ", i))
		captured := cookieHeader(c.cookies())
		c.post("/logout")
		rawGet(t, e.srv, "/whoami", captured) // replay after logout
		rawGet(t, e.srv, "/whoami", captured[:len(captured)-2]+"AA")
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/", nil)
		req.Header.Set("Cookie", captured)
		regen.ServeHTTP(rec, req)
		req = httptest.NewRequest("GET", "/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+strings.Repeat("A", i%300+1))
		app(e.m).ServeHTTP(httptest.NewRecorder(), req)
		if i%100 == 0 {
			rawGet(t, e.srv, "/whoami", anonLegacy)
		}
	}
	assert.Zero(t, storeSize(store), "anonymous clients grew the store")
}

type overheadOnly struct {
	recorder
	n int
}

func (o *overheadOnly) ObserveOverhead(time.Duration) { o.n++ }

func TestMultiObserver(t *testing.T) {
	assert.Nil(t, httpx.MultiObserver())
	assert.Nil(t, httpx.MultiObserver(nil, nil))
	single := &recorder{}
	assert.Same(t, single, httpx.MultiObserver(nil, single))
	a, b := &recorder{}, &overheadOnly{}
	plain := httpx.MultiObserver(a, &recorder{})
	_, isOver := plain.(httpx.OverheadObserver)
	assert.False(t, isOver, "no member measures overhead, so neither may the chain")
	both := httpx.MultiObserver(a, nil, b)
	both.Observe(t.Context(), httpx.Event{Kind: httpx.EventCreated})
	assert.Equal(t, []httpx.EventKind{httpx.EventCreated}, a.kinds())
	assert.Equal(t, []httpx.EventKind{httpx.EventCreated}, b.kinds())
	oo, ok := both.(httpx.OverheadObserver)
	require.True(t, ok)
	oo.ObserveOverhead(time.Millisecond)
	assert.Equal(t, 1, b.n)
}

// TestRemaining: Remaining predicts what still fits, to within a few
// bytes of encoding overhead.
func TestRemaining(t *testing.T) {
	e := newEnv(t, nil)
	serve(t, e.m, "", func(s *httpx.Session) {
		require.NoError(t, s.Login("rem"))
		left := s.Remaining()
		require.Greater(t, left, 1000)
		assert.NoError(t, blobKey.Set(s, make([]byte, left-16)), "a value just under Remaining was refused")
		assert.ErrorIs(t, codec.NewKey[[]byte]("more").Set(s, make([]byte, 64)), httpx.ErrTooLarge)
		assert.Less(t, s.Remaining(), 64)
		assert.LessOrEqual(t, s.HeaderBytes(), httpx.DefaultMaxHeaderBytes)
	})
}

// TestNewContextAndUsesToken: a session from Load put in a context is
// found by FromContext, Lookup and the Manager's own; UsesToken tells a
// token session from a cookie one.
func TestNewContextAndUsesToken(t *testing.T) {
	e := newEnv(t, func(c *httpx.Config) { c.AllowBearer = true })
	s, err := e.m.Load(httptest.NewRequest("GET", "/", nil))
	require.NoError(t, err)
	ctx := httpx.NewContext(t.Context(), s)
	assert.Same(t, s, httpx.FromContext(ctx))
	assert.Same(t, s, e.m.FromContext(ctx))
	got, ok := e.m.Lookup(ctx)
	assert.True(t, ok)
	assert.Same(t, s, got)
	other := newEnv(t, nil)
	_, ok = other.m.Lookup(ctx)
	assert.False(t, ok, "another Manager found this Manager's session")
	assert.False(t, s.UsesToken())
	require.NoError(t, s.UseToken())
	assert.True(t, s.UsesToken())
}

// storeRevocations returns the revocations a memstore holds.
func storeRevocations(s *memstore.Store) int {
	_, n := s.Len()
	return n
}

// storeSize returns the users with state plus the revocations a memstore
// holds.
func storeSize(s *memstore.Store) int {
	u, n := s.Len()
	return u + n
}
