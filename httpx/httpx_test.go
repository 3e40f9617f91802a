package httpx_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/memstore"
)

type env struct {
	m     *httpx.Manager
	srv   *httptest.Server
	clk   *clock
	rec   *recorder
	ring  *sealed.Keyring
	store versioning.Store
}

func newEnv(t *testing.T, mod func(*httpx.Config)) *env {
	t.Helper()
	e := &env{clk: newClock(), rec: &recorder{}, ring: newRing(t), store: memstore.New(nil)}
	cfg := httpx.Config{Keys: e.ring, Store: e.store, Observer: e.rec, Policy: versioning.Policy{Now: e.clk.Now}}
	if mod != nil {
		mod(&cfg)
	}
	m, err := httpx.New(cfg)
	require.NoError(t, err)
	e.m = m
	e.srv = httptest.NewTLSServer(app(m))
	t.Cleanup(e.srv.Close)
	return e
}

func TestAnonymousUntouchedSetsNoCookie(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e.srv)
	resp, body := c.do("GET", "/whoami", nil)
	require.Equal(t, "user= note= gen=0", body)
	require.Empty(t, resp.Header.Values("Set-Cookie"), "anonymous read-only request set cookies")
	require.Equal(t, "Cookie", resp.Header.Get("Vary"))
}

func TestCookieDefaults(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e.srv)
	resp, _ := c.post("/note", "v", "hello")
	sc := resp.Header.Values("Set-Cookie")
	require.Len(t, sc, 1, "Set-Cookie lines")
	line := sc[0]
	// Max-Age runs to the absolute deadline (24 h), past the idle one: an
	// idled-out session is still sent once, so it can be reported.
	for _, want := range []string{"__Host-session=", "; Path=/", "; Max-Age=86400", "; HttpOnly", "; Secure", "; SameSite=Lax"} {
		assert.Contains(t, line, want, "Set-Cookie lacks an attribute")
	}
	assert.NotContains(t, strings.ToLower(line), "domain=", "Set-Cookie has a Domain")
	assert.Contains(t, resp.Header.Get("Cache-Control"), "private", "Cache-Control does not keep shared caches out")
	require.Equal(t, "user= note=hello gen=0", c.get("/whoami"), "read back")
}

func TestMaxAgeIsNearerDeadline(t *testing.T) {
	e2 := newEnv(t, func(c *httpx.Config) {
		c.Policy.IdleTimeout = 30 * time.Minute
		c.Policy.AbsoluteTimeout = time.Hour
		c.Cookie.MaxAgeIdle = true
	})
	c2 := newClient(t, e2.srv)
	c2.post("/note", "v", "a")
	for i := 0; i < 5; i++ {
		e2.clk.Advance(10 * time.Minute)
		c2.get("/whoami") // renews
	}
	resp, _ := c2.post("/note", "v", "b")
	line := resp.Header.Get("Set-Cookie")
	require.Contains(t, line, "Max-Age=600;", "Max-Age should be the 10 minutes left of the absolute timeout")
}

func TestNoURLSession(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e.srv)
	c.post("/note", "v", "secret")
	val := c.cookies()[0].Value
	// The same sealed value in the URL or a form must not be read.
	resp, body := rawGet(t, e.srv, "/whoami?__Host-session="+val+"&session="+val, "")
	require.Equal(t, "user= note= gen=0", body, "session read from URL")
	require.Empty(t, resp.Header.Values("Set-Cookie"), "session read from URL")
}

func TestLoginFixation(t *testing.T) {
	e := newEnv(t, nil)
	victim := newClient(t, e.srv)
	victim.post("/note", "v", "pre")
	preID := victim.get("/id")
	planted := victim.cookies() // the attacker's copy of the pre-login cookie

	victim.post("/login", "u", "alice")
	require.Equal(t, "user=alice note=pre gen=1", victim.get("/whoami"), "after login")
	require.NotEqual(t, preID, victim.get("/id"), "login kept the session ID")
	// The attacker's copy is still the anonymous session it was: it
	// carries no privilege, so it is not revoked (revoking anonymous IDs
	// would let strangers grow the store), and it is not alice's.
	attacker := newClient(t, e.srv)
	attacker.setCookies(planted)
	require.Equal(t, "user= note=pre gen=0", attacker.get("/whoami"), "pre-login cookie after login: want the anonymous session it was")
	_, n := e.store.(*memstore.Store).Len()
	require.Zero(t, n, "login stored revocations for an anonymous pre-login ID")
}

func TestLogoutReplay(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e.srv)
	c.post("/login", "u", "bob")
	stolen := c.cookies()
	resp, _ := c.post("/logout")
	cleared := 0
	for _, line := range resp.Header.Values("Set-Cookie") {
		if strings.Contains(line, "Max-Age=0") {
			cleared++
		}
	}
	require.Equal(t, httpx.DefaultMaxChunks, cleared, "cookie names cleared by logout: %q", resp.Header.Values("Set-Cookie"))
	require.Equal(t, "user= note= gen=0", c.get("/whoami"), "after logout")
	replay := newClient(t, e.srv)
	replay.setCookies(stolen)
	e.rec.reset()
	resp, body := replay.do("GET", "/whoami", nil)
	require.Equal(t, "user= note= gen=0", body, "replayed cookie accepted")
	require.Equal(t, []string{"revoked"}, e.rec.reasons())
	// The refused cookie is cleared, and nothing says why.
	require.Contains(t, resp.Header.Get("Set-Cookie"), "Max-Age=0", "refused cookie not cleared")
}

func TestForceLogoutSameStore(t *testing.T) {
	e := newEnv(t, nil)
	laptop, phone := newClient(t, e.srv), newClient(t, e.srv)
	laptop.post("/login", "u", "carol")
	phone.post("/login", "u", "carol")
	require.NoError(t, e.m.ForceLogout(t.Context(), "carol"))
	for _, c := range []*client{laptop, phone} {
		require.Equal(t, "user= note= gen=0", c.get("/whoami"), "session survived ForceLogout")
	}
	laptop.post("/login", "u", "carol")
	require.Equal(t, "user=carol note= gen=1", laptop.get("/whoami"), "login after ForceLogout")
}

func TestIdleAndAbsoluteExpiry(t *testing.T) {
	e := newEnv(t, func(c *httpx.Config) { c.Policy.IdleTimeout = 10 * time.Minute; c.Policy.AbsoluteTimeout = time.Hour })
	c := newClient(t, e.srv)
	c.post("/login", "u", "dave")
	e.clk.Advance(9 * time.Minute)
	require.Equal(t, "user=dave note= gen=1", c.get("/whoami"), "within idle")
	e.clk.Advance(9 * time.Minute) // renewed at 9 min, so 9 more is fine
	require.Equal(t, "user=dave note= gen=1", c.get("/whoami"), "after renewal")
	e.clk.Advance(10*time.Minute + time.Second)
	e.rec.reset()
	require.Equal(t, "user= note= gen=0", c.get("/whoami"), "idle session accepted")
	require.Equal(t, []string{"idle_expired"}, e.rec.reasons())

	c.post("/login", "u", "dave")
	for i := 0; i < 6; i++ {
		e.clk.Advance(9 * time.Minute)
		require.Equal(t, "user=dave note= gen=1", c.get("/whoami"), "active session refused before the absolute timeout (step %d)", i)
	}
	e.clk.Advance(7 * time.Minute) // 61 minutes after login, 7 after last seen
	e.rec.reset()
	require.Equal(t, "user= note= gen=0", c.get("/whoami"), "session past absolute timeout accepted")
	require.Equal(t, []string{"absolute_expired"}, e.rec.reasons())
}

func TestSlidingRenewalThreshold(t *testing.T) {
	e := newEnv(t, func(c *httpx.Config) { c.Policy.RenewThreshold = time.Minute })
	c := newClient(t, e.srv)
	c.post("/note", "v", "x")
	e.clk.Advance(30 * time.Second)
	resp, _ := c.do("GET", "/whoami", nil)
	require.Empty(t, resp.Header.Values("Set-Cookie"), "renewed before the threshold")
	e.clk.Advance(31 * time.Second)
	resp, _ = c.do("GET", "/whoami", nil)
	require.Len(t, resp.Header.Values("Set-Cookie"), 1, "not renewed past the threshold")
}

func TestClockSkewFuture(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e.srv)
	e.clk.Advance(10 * time.Minute) // the cookie is issued "in the future"
	c.post("/note", "v", "x")
	e.clk.Advance(-10 * time.Minute)
	e.rec.reset()
	require.Equal(t, "user= note= gen=0", c.get("/whoami"), "future cookie accepted")
	require.Equal(t, []string{"issued_in_future"}, e.rec.reasons())
}

func TestKeyRotationLiveCookies(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e.srv)
	c.post("/login", "u", "erin")
	oldCookies := c.cookies() // sealed under the key about to be retired
	oldKey := e.ring.Primary()
	nk, _ := sealed.GenerateKey()
	require.NoError(t, e.ring.Rotate(nk))
	e.rec.reset()
	resp, body := c.do("GET", "/whoami", nil)
	require.Equal(t, "user=erin note= gen=1", body, "old-key cookie refused after rotation")
	require.Len(t, resp.Header.Values("Set-Cookie"), 1, "old-key cookie not re-sealed with the new primary")
	require.Equal(t, []httpx.EventKind{httpx.EventResealed}, e.rec.kinds(), "events")
	require.NoError(t, e.ring.Remove(oldKey.ID()))
	require.Equal(t, "user=erin note= gen=1", c.get("/whoami"), "re-sealed cookie refused after old key removal")
	// A copy sealed under the old key only is refused once that key is gone.
	stale := newClient(t, e.srv)
	stale.setCookies(oldCookies)
	assert.Equal(t, "user= note= gen=0", stale.get("/whoami"), "old-key copy accepted after the key's removal")
}

func TestRemovedKeyRefused(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e.srv)
	c.post("/login", "u", "frank")
	old := c.cookies()
	nk, _ := sealed.GenerateKey()
	oldID := e.ring.Primary().ID()
	_ = e.ring.Rotate(nk)
	_ = e.ring.Remove(oldID)
	replay := newClient(t, e.srv)
	replay.setCookies(old)
	e.rec.reset()
	require.Equal(t, "user= note= gen=0", replay.get("/whoami"), "cookie of a removed key accepted")
	require.Equal(t, []string{"unknown_key"}, e.rec.reasons())
}

func TestChunkingGrowShrink(t *testing.T) {
	e := newEnv(t, raisedBudget)
	c := newClient(t, e.srv)
	resp, _ := c.post("/blob", "n", "5000")
	lines := resp.Header.Values("Set-Cookie")
	require.Len(t, lines, 2, "5000-byte value: Set-Cookie lines")
	for _, l := range lines {
		require.Less(t, len(l), 4096, "Set-Cookie line length")
	}
	require.Len(t, c.cookies(), 2, "cookies in the jar")
	// Reads back through the chunks.
	c.post("/note", "v", "still here")
	require.Equal(t, "user= note=still here gen=0", c.get("/whoami"), "chunked read")
	// Shrink: the chunk is cleared.
	resp, _ = c.post("/blob", "n", "10")
	var cleared []string
	for _, l := range resp.Header.Values("Set-Cookie") {
		if strings.Contains(l, "Max-Age=0") {
			cleared = append(cleared, strings.SplitN(l, "=", 2)[0])
		}
	}
	require.Len(t, cleared, httpx.DefaultMaxChunks-1, "cookies cleared by the shrink")
	require.Len(t, c.cookies(), 1, "cookies in the jar after shrink")
	require.Equal(t, "user= note=still here gen=0", c.get("/whoami"), "after shrink")
}

func TestChunkAttacks(t *testing.T) {
	e := newEnv(t, raisedBudget)
	a, b := newClient(t, e.srv), newClient(t, e.srv)
	a.post("/blob", "n", "5000")
	b.post("/blob", "n", "5000")
	ca, cb := a.cookies(), b.cookies()
	byName := func(cs []*http.Cookie, name string) string {
		for _, c := range cs {
			if c.Name == name {
				return c.Value
			}
		}
		require.Fail(t, "no cookie "+name)
		return ""
	}
	base, second := "__Host-session", "__Host-session-1"
	a0, a1, b1 := byName(ca, base), byName(ca, second), byName(cb, second)
	cases := map[string]struct{ cookie, reason string }{
		"missing last":  {base + "=" + a0, "auth_failed"},
		"missing first": {second + "=" + a1, "chunks"},
		"duplicated":    {base + "=" + a0 + "; " + second + "=" + a1 + "; " + second + "=" + a1, "chunks"},
		"reordered":     {base + "=" + a1 + "; " + second + "=" + a0, "malformed"},
		"mixed":         {base + "=" + a0 + "; " + second + "=" + b1, "auth_failed"},
		"gap":           {base + "=" + a0 + "; " + "__Host-session-2=" + a1, "chunks"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e.rec.reset()
			_, body := rawGet(t, e.srv, "/whoami", tc.cookie)
			require.Equal(t, "user= note= gen=0", body, "accepted")
			r := e.rec.reasons()
			require.Len(t, r, 1, "reasons")
			if tc.reason == "malformed" && r[0] == "auth_failed" || tc.reason == "auth_failed" && r[0] == "malformed" {
				return // either is a correct refusal of a spliced envelope
			}
			require.Equal(t, tc.reason, r[0], "reason")
		})
	}
	// The intact set still works: it is a's session, refused for nothing.
	e.rec.reset()
	_, id := rawGet(t, e.srv, "/id", base+"="+a0+"; "+second+"="+a1)
	assert.Equal(t, a.get("/id"), id, "the intact chunk set is a's session")
	assert.Empty(t, e.rec.reasons(), "the intact chunk set was refused")
}

// A value over the budget is refused when it is set: the handler sees the
// error and the client keeps its session.
func TestOversizeKeepsPreviousCookie(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e.srv)
	c.post("/note", "v", "keep me")
	before := cookieHeader(c.cookies())
	e.rec.reset()
	resp, body := c.post("/blob", "n", "20000")
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "body %q", body)
	require.Equal(t, "refused\n", body)
	require.Empty(t, resp.Header.Values("Set-Cookie"), "oversize response set cookies")
	require.Equal(t, before, cookieHeader(c.cookies()), "previous cookie was changed")
	require.Equal(t, "user= note=keep me gen=0", c.get("/whoami"), "previous session lost")
}

// A session that grows past the budget behind the values' guard fails at
// the save: the ErrorHandler answers, nothing is set, the previous cookie
// stays, and an EventSaveFailed says why (which the slog observer logs at
// Warn).
func TestOversizeAtSave(t *testing.T) {
	var got error
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e := newEnv(t, func(c *httpx.Config) {
		rec := c.Observer
		c.Observer = httpx.ObserverFunc(func(ctx context.Context, ev httpx.Event) {
			rec.Observe(ctx, ev)
			httpx.NewSlogObserver(logger).Observe(ctx, ev)
		})
		c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			http.Error(w, "too big", http.StatusRequestEntityTooLarge)
		}
	})
	c := newClient(t, e.srv)
	c.post("/note", "v", "keep me")
	before := cookieHeader(c.cookies())
	resp, body := c.post("/bloat")
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "body %q", body)
	require.NotContains(t, body, "bytes")
	require.Empty(t, resp.Header.Values("Set-Cookie"), "failed save set cookies")
	var se *httpx.SizeError
	require.ErrorIs(t, got, httpx.ErrTooLarge)
	require.ErrorAs(t, got, &se)
	require.Equal(t, httpx.LimitHeaderBytes, se.Limit, "error %v", got)
	require.Equal(t, httpx.DefaultMaxHeaderBytes, se.Max, "error %v", got)
	require.Positive(t, se.Over(), "error %v", got)
	require.Contains(t, se.Error(), "Cookie.MaxHeaderBytes", "SizeError does not name the limit")
	require.Contains(t, se.Error(), fmt.Sprint(se.Over(), " over"), "SizeError does not name the excess")
	require.Equal(t, before, cookieHeader(c.cookies()), "previous cookie was changed")
	require.Equal(t, "user= note=keep me gen=0", c.get("/whoami"), "previous session lost")
	var failed []httpx.Event
	for _, ev := range e.rec.all() {
		if ev.Kind == httpx.EventSaveFailed {
			failed = append(failed, ev)
		}
	}
	require.Len(t, failed, 1, "save_failed events")
	require.Equal(t, "too_large", httpx.ReasonLabel(failed[0].Reason), "save_failed events %+v", failed)
	l := logs.String()
	require.Contains(t, l, "level=WARN", "slog at warn")
	require.Contains(t, l, "event=save_failed", "slog at warn")
	require.Contains(t, l, "reason=too_large", "slog at warn")
}

func TestTamperedAndGarbage(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e.srv)
	c.post("/login", "u", "gina")
	val := c.cookies()[0].Value
	flip := []byte(val)
	flip[len(flip)/2] ^= 1
	if flip[len(flip)/2] == '-' || flip[len(flip)/2] == '_' {
		flip[len(flip)/2] = 'A'
	}
	for name, cookie := range map[string]string{
		"flipped":   "__Host-session=" + string(flip),
		"truncated": "__Host-session=" + val[:len(val)-3],
		"garbage":   "__Host-session=%%%not-base64%%%",
		"empty":     "__Host-session=",
		"huge":      "__Host-session=" + strings.Repeat("A", 100000),
		"renamed":   "__Host-other=" + val + "; __Host-session-3=" + val,
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := rawGet(t, e.srv, "/whoami", cookie)
			require.Equal(t, 200, resp.StatusCode, "body %q", body)
			require.Equal(t, "user= note= gen=0", body)
		})
	}
}

func TestCookieMovedToOtherName(t *testing.T) {
	e := newEnv(t, nil)
	other, err := httpx.New(httpx.Config{Keys: e.ring, Store: e.store, Cookie: httpx.CookieConfig{Name: "__Host-admin"}, Policy: versioning.Policy{Now: e.clk.Now}, Observer: e.rec})
	require.NoError(t, err)
	srv2 := httptest.NewTLSServer(app(other))
	defer srv2.Close()
	c := newClient(t, e.srv)
	c.post("/login", "u", "hank")
	val := c.cookies()[0].Value
	e.rec.reset()
	_, body := rawGet(t, srv2, "/whoami", "__Host-admin="+val)
	require.Equal(t, "user= note= gen=0", body, "cookie opened under another name")
	require.Equal(t, []string{"auth_failed"}, e.rec.reasons())
}

func TestConcurrentClients(t *testing.T) {
	e := newEnv(t, nil)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := newClient(goroutineT{t}, e.srv) // a worker: require ends it, not the test
			user := "user" + string(rune('a'+i))
			c.post("/login", "u", user)
			for j := 0; j < 15; j++ {
				v := user + "-" + string(rune('0'+j%10))
				c.post("/note", "v", v)
				if got := c.get("/whoami"); got != "user="+user+" note="+v+" gen=1" {
					errs <- got
					return
				}
			}
			c.post("/logout")
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		assert.Fail(t, "wrong whoami answer", e)
	}
}
