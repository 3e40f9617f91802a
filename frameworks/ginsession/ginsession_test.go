package ginsession_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/frameworks/ginsession"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/httpx/sessiontest"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/memstore"
	"github.com/sealedsession/sealedsession/versioning/mock"
)

func init() { gin.SetMode(gin.TestMode) }

var noteKey = codec.NewKey[string]("note")

// events records what the Manager reports.
type events struct{ saveFailed atomic.Int32 }

func (e *events) Observe(_ context.Context, ev httpx.Event) {
	if ev.Kind == httpx.EventSaveFailed {
		e.saveFailed.Add(1)
	}
}

func newManager(t *testing.T, store versioning.Store, obs httpx.Observer) *httpx.Manager {
	t.Helper()
	key, err := sealed.GenerateKey()
	require.NoError(t, err)
	keys, err := sealed.NewKeyring(key)
	require.NoError(t, err)
	if store == nil {
		store = memstore.New(nil)
	}
	m, err := httpx.New(httpx.Config{Keys: keys, Store: store, Observer: obs})
	require.NoError(t, err)
	return m
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// Every way a gin handler answers carries the change it made before.
func TestChangesLand(t *testing.T) {
	answers := map[string]gin.HandlerFunc{
		"JSON":         func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"ok": true}) },
		"String":       func(c *gin.Context) { c.String(http.StatusCreated, "made") },
		"Redirect":     func(c *gin.Context) { c.Redirect(http.StatusSeeOther, "/") },
		"Data":         func(c *gin.Context) { c.Data(http.StatusOK, "text/plain", []byte("x")) },
		"AbortStatus":  func(c *gin.Context) { c.AbortWithStatus(http.StatusNoContent) },
		"StatusOnly":   func(c *gin.Context) { c.Status(http.StatusAccepted) },
		"NothingAtAll": func(c *gin.Context) {},
		"WriterString": func(c *gin.Context) { _, _ = c.Writer.WriteString("raw") },
		"Flush":        func(c *gin.Context) { c.Writer.Flush(); _, _ = c.Writer.Write([]byte("streamed")) },
		"Controller":   func(c *gin.Context) { _ = http.NewResponseController(c.Writer).Flush() },
		"WrapH":        gin.WrapH(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })),
		"RequestContext": func(c *gin.Context) {
			s, ok := ginsession.Lookup(c.Request.Context())
			if !ok || s != ginsession.Get(c) || httpx.FromContext(c.Request.Context()) != s {
				c.AbortWithStatus(http.StatusInternalServerError)
				return
			}
			c.String(http.StatusOK, "same")
		},
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			m := newManager(t, nil, nil)
			r := gin.New()
			r.Use(ginsession.Middleware(m))
			r.POST("/", func(c *gin.Context) {
				assert.NoError(t, noteKey.Set(ginsession.Get(c), name), "Set")
			}, answer)
			rec := serve(r, httptest.NewRequest(http.MethodPost, "/", nil))
			require.Less(t, rec.Code, 500, "status: %s", rec.Body)
			s := sessiontest.Result(t, m, rec.Result())
			got, _ := noteKey.Get(s)
			require.Equal(t, name, got, "the change did not land: note (Set-Cookie %q)", rec.Header().Values("Set-Cookie"))
			if vary := rec.Header().Values("Vary"); assert.NotEmpty(t, vary, "Vary, want Cookie") {
				assert.Equal(t, "Cookie", vary[0], "Vary %q", vary)
			}
		})
	}
}

// A session carried in by the client survives, and login regenerates its ID.
func TestSessionSurvivesAndLoginRegenerates(t *testing.T) {
	m := newManager(t, nil, nil)
	r := gin.New()
	r.Use(ginsession.Middleware(m))
	r.POST("/login", func(c *gin.Context) {
		if err := ginsession.Get(c).Login(c.PostForm("user")); err != nil {
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		c.Redirect(http.StatusSeeOther, "/")
	})
	r.GET("/note", func(c *gin.Context) {
		note, _ := noteKey.Get(ginsession.Get(c))
		c.String(http.StatusOK, "%s/%s", ginsession.Get(c).UserID(), note)
	})
	var before codec.SessionID
	req := sessiontest.Request(t, m, httptest.NewRequest(http.MethodPost, "/login", strings.NewReader("user=alice")), func(s *httpx.Session) error {
		before = s.ID()
		return noteKey.Set(s, "kept")
	})
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := serve(r, req)
	require.Equal(t, http.StatusSeeOther, rec.Code, "login: %s", rec.Body)
	s := sessiontest.Result(t, m, rec.Result())
	require.Equal(t, "alice", s.UserID(), "after login: user")
	require.NotEqual(t, before, s.ID(), "after login: the ID did not change")
	next := httptest.NewRequest(http.MethodGet, "/note", nil)
	for _, ck := range rec.Result().Cookies() {
		next.AddCookie(ck)
	}
	require.Equal(t, "alice/kept", serve(r, next).Body.String(), "next request")
}

// A change after the response has started fails loudly and changes nothing.
func TestChangeAfterBodyIsRefused(t *testing.T) {
	m := newManager(t, nil, nil)
	var errs []error
	r := gin.New()
	r.Use(ginsession.Middleware(m))
	r.POST("/", func(c *gin.Context) {
		s := ginsession.Get(c)
		c.String(http.StatusOK, "written")
		errs = append(errs, noteKey.Set(s, "late"), s.AddFlash("late"), s.Login("mallory"), s.Regenerate(), s.Logout())
	})
	rec := serve(r, httptest.NewRequest(http.MethodPost, "/", nil))
	require.Equal(t, http.StatusOK, rec.Code, "body %q", rec.Body)
	require.Equal(t, "written", rec.Body.String())
	for i, err := range errs {
		assert.ErrorIs(t, err, httpx.ErrResponseStarted, "change %d after the body", i)
	}
	require.Empty(t, rec.Header().Values("Set-Cookie"), "a refused change set cookies")
}

// A value over the cookie budget is refused when it is set; the rest of
// the session still lands and the response goes on.
func TestOverBudgetRefusedAtSet(t *testing.T) {
	m := newManager(t, nil, nil)
	var setErr error
	r := gin.New()
	r.Use(ginsession.Middleware(m))
	r.POST("/", func(c *gin.Context) {
		s := ginsession.Get(c)
		assert.NoError(t, noteKey.Set(s, "small"), "small value")
		setErr = noteKey.Set(s, strings.Repeat("x", 8<<10))
		c.String(http.StatusOK, "ok")
	})
	rec := serve(r, httptest.NewRequest(http.MethodPost, "/", nil))
	var se *httpx.SizeError
	require.ErrorIs(t, setErr, httpx.ErrTooLarge, "over-budget Set")
	require.ErrorAs(t, setErr, &se, "over-budget Set: want a *SizeError")
	require.Positive(t, se.Over(), "over-budget Set: SizeError.Over()")
	require.Equal(t, http.StatusOK, rec.Code, "status")
	got, _ := noteKey.Get(sessiontest.Result(t, m, rec.Result()))
	require.Equal(t, "small", got, "note: want the value before the refused Set")
}

// downStore is an in-memory store that can be taken down.
func downStore(down *atomic.Bool) versioning.Store {
	mem := memstore.New(nil)
	fail := func() error { return fmt.Errorf("test outage: %w", versioning.ErrStoreUnavailable) }
	return &mock.Store{
		EpochFunc: func(ctx context.Context, u string) (uint64, error) {
			if down.Load() {
				return 0, fail()
			}
			return mem.Epoch(ctx, u)
		},
		BumpEpochFunc: mem.BumpEpoch,
		RevokeFunc: func(ctx context.Context, u string, id codec.SessionID, until time.Time) error {
			if down.Load() {
				return fail()
			}
			return mem.Revoke(ctx, u, id, until)
		},
		LookupFunc: func(ctx context.Context, u string, id codec.SessionID) (versioning.SessionState, error) {
			if down.Load() {
				return versioning.SessionState{}, fail()
			}
			return mem.Lookup(ctx, u, id)
		},
	}
}

// With the store down, a change to a session whose cookie could not be
// checked is answered 503 (generic body), the cookie is kept, and the
// failure is an event; a read-only request is served.
func TestStoreDownIs503OnWrite(t *testing.T) {
	var down atomic.Bool
	ev := &events{}
	m := newManager(t, downStore(&down), ev)
	var seenRejected error
	r := gin.New()
	r.Use(ginsession.Middleware(m))
	r.GET("/", func(c *gin.Context) {
		seenRejected = ginsession.Get(c).Rejected()
		c.String(http.StatusOK, "read only")
	})
	r.POST("/", func(c *gin.Context) {
		assert.NoError(t, noteKey.Set(ginsession.Get(c), "while down"), "Set")
		c.JSON(http.StatusOK, gin.H{"secret": "handler body"})
	})
	login := func() *http.Request {
		return sessiontest.Request(t, m, httptest.NewRequest(http.MethodPost, "/", nil), func(s *httpx.Session) error { return s.Login("alice") })
	}
	req, get := login(), login()
	get.Method = http.MethodGet
	down.Store(true)

	rec := serve(r, req)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, "write with the store down")
	body := rec.Body.String()
	require.NotContains(t, body, "handler body", "body: want only the status text")
	require.NotContains(t, body, "outage", "body: want only the status text")
	require.Equal(t, http.StatusText(http.StatusServiceUnavailable), strings.TrimSpace(body), "body: want only the status text")
	require.Empty(t, rec.Header().Values("Set-Cookie"), "the client's cookie was touched")
	require.NotZero(t, ev.saveFailed.Load(), "no EventSaveFailed")

	rec = serve(r, get)
	require.Equal(t, http.StatusOK, rec.Code, "read-only with the store down")
	require.ErrorIs(t, seenRejected, versioning.ErrStoreUnavailable, "read-only with the store down: rejected")

	down.Store(false)
	rec = serve(r, login())
	require.Equal(t, http.StatusOK, rec.Code, "store back")
}

// A custom ErrorHandler answers instead of the handler.
func TestCustomErrorHandler(t *testing.T) {
	var down atomic.Bool
	m := newManager(t, downStore(&down), nil)
	var got error
	r := gin.New()
	r.Use(ginsession.MiddlewareWith(m, ginsession.Options{ErrorHandler: func(c *gin.Context, err error) {
		got = err
		c.String(http.StatusTeapot, "try later")
	}}))
	r.POST("/", func(c *gin.Context) {
		_ = noteKey.Set(ginsession.Get(c), "x")
		c.String(http.StatusOK, "handler")
	})
	req := sessiontest.Request(t, m, httptest.NewRequest(http.MethodPost, "/", nil), func(s *httpx.Session) error { return s.Login("bob") })
	down.Store(true)
	rec := serve(r, req)
	require.Equal(t, http.StatusTeapot, rec.Code, "body %q", rec.Body)
	require.Equal(t, "try later", rec.Body.String())
	require.ErrorIs(t, got, versioning.ErrStoreUnavailable, "the error passed to the ErrorHandler")
}

// Logout clears the cookie and a copy of it is refused afterwards.
func TestLogout(t *testing.T) {
	m := newManager(t, nil, nil)
	r := gin.New()
	r.Use(ginsession.Middleware(m))
	r.POST("/logout", func(c *gin.Context) {
		if err := ginsession.Get(c).Logout(); err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
		c.Redirect(http.StatusSeeOther, "/")
	})
	req := sessiontest.Request(t, m, httptest.NewRequest(http.MethodPost, "/logout", nil), func(s *httpx.Session) error { return s.Login("alice") })
	rec := serve(r, req)
	require.Equal(t, http.StatusSeeOther, rec.Code, "logout")
	cleared := false
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == m.CookieName() && ck.MaxAge < 0 {
			cleared = true
		}
	}
	require.True(t, cleared, "logout did not clear the cookie: %q", rec.Header().Values("Set-Cookie"))
	replay := httptest.NewRequest(http.MethodGet, "/", nil)
	replay.Header.Set("Cookie", req.Header.Get("Cookie"))
	s, err := m.Load(replay)
	require.NoError(t, err, "replayed cookie")
	require.ErrorIs(t, s.Rejected(), versioning.ErrRevoked, "replayed cookie: rejected")
}

// Get panics without the middleware; Lookup reports false.
func TestGetWithoutMiddleware(t *testing.T) {
	r := gin.New()
	var ok bool
	var panicked any
	r.GET("/", func(c *gin.Context) {
		_, ok = ginsession.Lookup(c)
		defer func() { panicked = recover() }()
		ginsession.Get(c)
	})
	serve(r, httptest.NewRequest(http.MethodGet, "/", nil))
	require.False(t, ok, "Lookup ok")
	require.NotNil(t, panicked, "Get did not panic")
}

// The middleware on one route group: routes outside it have no session
// and set no cookie.
func TestRouteGroup(t *testing.T) {
	m := newManager(t, nil, nil)
	r := gin.New()
	r.GET("/public", func(c *gin.Context) {
		_, ok := ginsession.Lookup(c)
		c.String(http.StatusOK, "%v", ok)
	})
	g := r.Group("/app", ginsession.Middleware(m))
	g.GET("/note", func(c *gin.Context) {
		_ = noteKey.Set(ginsession.Get(c), "in group")
		c.String(http.StatusOK, "ok")
	})
	public := serve(r, httptest.NewRequest(http.MethodGet, "/public", nil))
	require.Equal(t, "false", public.Body.String(), "/public: Lookup ok")
	require.Empty(t, public.Header().Values("Set-Cookie"), "/public: Set-Cookie")
	rec := serve(r, httptest.NewRequest(http.MethodGet, "/app/note", nil))
	got, _ := noteKey.Get(sessiontest.Result(t, m, rec.Result()))
	require.Equal(t, "in group", got, "/app/note: note")
}

// A handler that panics past the middleware saves nothing, and the
// recovery outside answers through gin's own writer.
func TestPanicSavesNothing(t *testing.T) {
	m := newManager(t, nil, nil)
	r := gin.New()
	r.Use(gin.RecoveryWithWriter(io.Discard), ginsession.Middleware(m))
	r.POST("/", func(c *gin.Context) {
		_ = noteKey.Set(ginsession.Get(c), "half done")
		panic("handler bug")
	})
	rec := serve(r, httptest.NewRequest(http.MethodPost, "/", nil))
	require.Equal(t, http.StatusInternalServerError, rec.Code, "status")
	require.Empty(t, rec.Header().Values("Set-Cookie"), "a panicking handler's change was saved")
}
