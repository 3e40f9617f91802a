package httpx_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

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
	e := &env{clk: newClock(), rec: &recorder{}, ring: newRing(t), store: memstore.New()}
	cfg := httpx.Config{Keys: e.ring, Store: e.store, Observer: e.rec, Policy: versioning.Policy{Now: e.clk.Now}}
	if mod != nil {
		mod(&cfg)
	}
	m, err := httpx.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	e.srv = httptest.NewTLSServer(app(m))
	t.Cleanup(e.srv.Close)
	return e
}

func TestAnonymousUntouchedSetsNoCookie(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e.srv)
	resp, body := c.do("GET", "/whoami", nil)
	if body != "user= note= gen=0" {
		t.Fatalf("body %q", body)
	}
	if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("anonymous read-only request set cookies: %q", sc)
	}
	if got := resp.Header.Get("Vary"); got != "Cookie" {
		t.Fatalf("Vary = %q", got)
	}
}

func TestCookieDefaults(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e.srv)
	resp, _ := c.post("/note", "v", "hello")
	sc := resp.Header.Values("Set-Cookie")
	if len(sc) != 1 {
		t.Fatalf("Set-Cookie lines: %q", sc)
	}
	line := sc[0]
	// Max-Age runs to the absolute deadline (24 h), past the idle one: an
	// idled-out session is still sent once, so it can be reported.
	for _, want := range []string{"__Host-session=", "; Path=/", "; Max-Age=86400", "; HttpOnly", "; Secure", "; SameSite=Lax"} {
		if !strings.Contains(line, want) {
			t.Errorf("Set-Cookie %q lacks %q", line, want)
		}
	}
	if strings.Contains(strings.ToLower(line), "domain=") {
		t.Errorf("Set-Cookie has a Domain: %q", line)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "private") {
		t.Errorf("Cache-Control %q does not keep shared caches out", cc)
	}
	if got := c.get("/whoami"); got != "user= note=hello gen=0" {
		t.Fatalf("read back %q", got)
	}
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
	if !strings.Contains(line, "Max-Age=600;") {
		t.Fatalf("Max-Age should be the 10 minutes left of the absolute timeout: %q", line)
	}
}

func TestNoURLSession(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e.srv)
	c.post("/note", "v", "secret")
	val := c.cookies()[0].Value
	// The same sealed value in the URL or a form must not be read.
	resp, body := rawGet(t, e.srv, "/whoami?__Host-session="+val+"&session="+val, "")
	if body != "user= note= gen=0" || len(resp.Header.Values("Set-Cookie")) != 0 {
		t.Fatalf("session read from URL: %q", body)
	}
}

func TestLoginFixation(t *testing.T) {
	e := newEnv(t, nil)
	victim := newClient(t, e.srv)
	victim.post("/note", "v", "pre")
	preID := victim.get("/id")
	planted := victim.cookies() // the attacker's copy of the pre-login cookie

	victim.post("/login", "u", "alice")
	if got := victim.get("/whoami"); got != "user=alice note=pre gen=1" {
		t.Fatalf("after login: %q", got)
	}
	if postID := victim.get("/id"); postID == preID {
		t.Fatal("login kept the session ID")
	}
	// The attacker's copy is still the anonymous session it was: it
	// carries no privilege, so it is not revoked (revoking anonymous IDs
	// would let strangers grow the store), and it is not alice's.
	attacker := newClient(t, e.srv)
	attacker.setCookies(planted)
	if got := attacker.get("/whoami"); got != "user= note=pre gen=0" {
		t.Fatalf("pre-login cookie after login: %q, want the anonymous session it was", got)
	}
	if _, n := e.store.(*memstore.Store).Len(); n != 0 {
		t.Fatalf("login stored %d revocations for an anonymous pre-login ID", n)
	}
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
	if cleared != httpx.DefaultMaxChunks {
		t.Fatalf("logout cleared %d cookie names, want %d: %q", cleared, httpx.DefaultMaxChunks, resp.Header.Values("Set-Cookie"))
	}
	if got := c.get("/whoami"); got != "user= note= gen=0" {
		t.Fatalf("after logout: %q", got)
	}
	replay := newClient(t, e.srv)
	replay.setCookies(stolen)
	e.rec.reset()
	resp, body := replay.do("GET", "/whoami", nil)
	if body != "user= note= gen=0" {
		t.Fatalf("replayed cookie accepted: %q", body)
	}
	if r := e.rec.reasons(); len(r) != 1 || r[0] != "revoked" {
		t.Fatalf("reasons %v", r)
	}
	// The refused cookie is cleared, and nothing says why.
	if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=0") {
		t.Fatalf("refused cookie not cleared: %q", sc)
	}
}

func TestForceLogoutSameStore(t *testing.T) {
	e := newEnv(t, nil)
	laptop, phone := newClient(t, e.srv), newClient(t, e.srv)
	laptop.post("/login", "u", "carol")
	phone.post("/login", "u", "carol")
	if err := e.m.ForceLogout(t.Context(), "carol"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{laptop, phone} {
		if got := c.get("/whoami"); got != "user= note= gen=0" {
			t.Fatalf("session survived ForceLogout: %q", got)
		}
	}
	laptop.post("/login", "u", "carol")
	if got := laptop.get("/whoami"); got != "user=carol note= gen=1" {
		t.Fatalf("login after ForceLogout: %q", got)
	}
}

func TestIdleAndAbsoluteExpiry(t *testing.T) {
	e := newEnv(t, func(c *httpx.Config) { c.Policy.IdleTimeout = 10 * time.Minute; c.Policy.AbsoluteTimeout = time.Hour })
	c := newClient(t, e.srv)
	c.post("/login", "u", "dave")
	e.clk.Advance(9 * time.Minute)
	if got := c.get("/whoami"); got != "user=dave note= gen=1" {
		t.Fatalf("within idle: %q", got)
	}
	e.clk.Advance(9 * time.Minute) // renewed at 9 min, so 9 more is fine
	if got := c.get("/whoami"); got != "user=dave note= gen=1" {
		t.Fatalf("after renewal: %q", got)
	}
	e.clk.Advance(10*time.Minute + time.Second)
	e.rec.reset()
	if got := c.get("/whoami"); got != "user= note= gen=0" {
		t.Fatalf("idle session accepted: %q", got)
	}
	if r := e.rec.reasons(); len(r) != 1 || r[0] != "idle_expired" {
		t.Fatalf("reasons %v", r)
	}

	c.post("/login", "u", "dave")
	for i := 0; i < 6; i++ {
		e.clk.Advance(9 * time.Minute)
		if got := c.get("/whoami"); got != "user=dave note= gen=1" {
			t.Fatalf("active session refused before the absolute timeout: %q", got)
		}
	}
	e.clk.Advance(7 * time.Minute) // 61 minutes after login, 7 after last seen
	e.rec.reset()
	if got := c.get("/whoami"); got != "user= note= gen=0" {
		t.Fatalf("session past absolute timeout accepted: %q", got)
	}
	if r := e.rec.reasons(); len(r) != 1 || r[0] != "absolute_expired" {
		t.Fatalf("reasons %v", r)
	}
}

func TestSlidingRenewalThreshold(t *testing.T) {
	e := newEnv(t, func(c *httpx.Config) { c.Policy.RenewThreshold = time.Minute })
	c := newClient(t, e.srv)
	c.post("/note", "v", "x")
	e.clk.Advance(30 * time.Second)
	resp, _ := c.do("GET", "/whoami", nil)
	if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("renewed before the threshold: %q", sc)
	}
	e.clk.Advance(31 * time.Second)
	resp, _ = c.do("GET", "/whoami", nil)
	if sc := resp.Header.Values("Set-Cookie"); len(sc) != 1 {
		t.Fatalf("not renewed past the threshold: %q", sc)
	}
}

func TestClockSkewFuture(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e.srv)
	e.clk.Advance(10 * time.Minute) // the cookie is issued "in the future"
	c.post("/note", "v", "x")
	e.clk.Advance(-10 * time.Minute)
	e.rec.reset()
	if got := c.get("/whoami"); got != "user= note= gen=0" {
		t.Fatalf("future cookie accepted: %q", got)
	}
	if r := e.rec.reasons(); len(r) != 1 || r[0] != "issued_in_future" {
		t.Fatalf("reasons %v", r)
	}
}

func TestKeyRotationLiveCookies(t *testing.T) {
	e := newEnv(t, nil)
	c := newClient(t, e.srv)
	c.post("/login", "u", "erin")
	oldKey := e.ring.Primary()
	nk, _ := sealed.GenerateKey()
	if err := e.ring.Rotate(nk); err != nil {
		t.Fatal(err)
	}
	e.rec.reset()
	resp, body := c.do("GET", "/whoami", nil)
	if body != "user=erin note= gen=1" {
		t.Fatalf("old-key cookie refused after rotation: %q", body)
	}
	if len(resp.Header.Values("Set-Cookie")) != 1 {
		t.Fatal("old-key cookie not re-sealed with the new primary")
	}
	if k := e.rec.kinds(); len(k) != 1 || k[0] != httpx.EventResealed {
		t.Fatalf("events %v", k)
	}
	stale := newClient(t, e.srv)
	// A copy sealed under the old key only.
	if err := e.ring.Remove(oldKey.ID()); err != nil {
		t.Fatal(err)
	}
	if got := c.get("/whoami"); got != "user=erin note= gen=1" {
		t.Fatalf("re-sealed cookie refused after old key removal: %q", got)
	}
	_ = stale
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
	if got := replay.get("/whoami"); got != "user= note= gen=0" {
		t.Fatalf("cookie of a removed key accepted: %q", got)
	}
	if r := e.rec.reasons(); len(r) != 1 || r[0] != "unknown_key" {
		t.Fatalf("reasons %v", r)
	}
}

func TestChunkingGrowShrink(t *testing.T) {
	e := newEnv(t, raisedBudget)
	c := newClient(t, e.srv)
	resp, _ := c.post("/blob", "n", "5000")
	lines := resp.Header.Values("Set-Cookie")
	if len(lines) != 2 {
		t.Fatalf("5000-byte value: %d Set-Cookie lines, want 2", len(lines))
	}
	for _, l := range lines {
		if len(l) >= 4096 {
			t.Fatalf("Set-Cookie line of %d bytes", len(l))
		}
	}
	if n := len(c.cookies()); n != 2 {
		t.Fatalf("jar holds %d cookies", n)
	}
	// Reads back through the chunks.
	c.post("/note", "v", "still here")
	if got := c.get("/whoami"); got != "user= note=still here gen=0" {
		t.Fatalf("chunked read: %q", got)
	}
	// Shrink: the chunk is cleared.
	resp, _ = c.post("/blob", "n", "10")
	var cleared []string
	for _, l := range resp.Header.Values("Set-Cookie") {
		if strings.Contains(l, "Max-Age=0") {
			cleared = append(cleared, strings.SplitN(l, "=", 2)[0])
		}
	}
	if len(cleared) != httpx.DefaultMaxChunks-1 {
		t.Fatalf("shrink cleared %v", cleared)
	}
	if n := len(c.cookies()); n != 1 {
		t.Fatalf("jar holds %d cookies after shrink", n)
	}
	if got := c.get("/whoami"); got != "user= note=still here gen=0" {
		t.Fatalf("after shrink: %q", got)
	}
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
		t.Fatalf("no cookie %s", name)
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
			if body != "user= note= gen=0" {
				t.Fatalf("accepted: %q", body)
			}
			r := e.rec.reasons()
			if len(r) != 1 {
				t.Fatalf("reasons %v", r)
			}
			if tc.reason == "malformed" && r[0] == "auth_failed" || tc.reason == "auth_failed" && r[0] == "malformed" {
				return // either is a correct refusal of a spliced envelope
			}
			if r[0] != tc.reason {
				t.Fatalf("reason %q, want %q", r[0], tc.reason)
			}
		})
	}
	// The intact set still works.
	if _, body := rawGet(t, e.srv, "/whoami", base+"="+a0+"; "+second+"="+a1); body != "user= note= gen=0" && !strings.HasPrefix(body, "user=") {
		t.Fatal(body)
	}
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
	if resp.StatusCode != http.StatusRequestEntityTooLarge || body != "refused\n" {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("oversize response set cookies: %q", sc)
	}
	if after := cookieHeader(c.cookies()); after != before {
		t.Fatal("previous cookie was changed")
	}
	if got := c.get("/whoami"); got != "user= note=keep me gen=0" {
		t.Fatalf("previous session lost: %q", got)
	}
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
	if resp.StatusCode != http.StatusRequestEntityTooLarge || strings.Contains(body, "bytes") {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("failed save set cookies: %q", sc)
	}
	var se *httpx.SizeError
	if !errors.Is(got, httpx.ErrTooLarge) || !errors.As(got, &se) || se.Limit != httpx.LimitHeaderBytes || se.Max != httpx.DefaultMaxHeaderBytes || se.Over() <= 0 {
		t.Fatalf("error %v", got)
	}
	if !strings.Contains(se.Error(), "Cookie.MaxHeaderBytes") || !strings.Contains(se.Error(), fmt.Sprint(se.Over(), " over")) {
		t.Fatalf("SizeError does not name the limit and the excess: %v", se)
	}
	if after := cookieHeader(c.cookies()); after != before {
		t.Fatal("previous cookie was changed")
	}
	if got := c.get("/whoami"); got != "user= note=keep me gen=0" {
		t.Fatalf("previous session lost: %q", got)
	}
	var failed []httpx.Event
	for _, ev := range e.rec.all() {
		if ev.Kind == httpx.EventSaveFailed {
			failed = append(failed, ev)
		}
	}
	if len(failed) != 1 || httpx.ReasonLabel(failed[0].Reason) != "too_large" {
		t.Fatalf("save_failed events %+v", failed)
	}
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "event=save_failed") || !strings.Contains(l, "reason=too_large") {
		t.Fatalf("slog at warn: %q", l)
	}
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
			if resp.StatusCode != 200 || body != "user= note= gen=0" {
				t.Fatalf("status %d body %q", resp.StatusCode, body)
			}
		})
	}
}

func TestCookieMovedToOtherName(t *testing.T) {
	e := newEnv(t, nil)
	other, err := httpx.New(httpx.Config{Keys: e.ring, Store: e.store, Cookie: httpx.CookieConfig{Name: "__Host-admin"}, Policy: versioning.Policy{Now: e.clk.Now}, Observer: e.rec})
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewTLSServer(app(other))
	defer srv2.Close()
	c := newClient(t, e.srv)
	c.post("/login", "u", "hank")
	val := c.cookies()[0].Value
	e.rec.reset()
	if _, body := rawGet(t, srv2, "/whoami", "__Host-admin="+val); body != "user= note= gen=0" {
		t.Fatalf("cookie opened under another name: %q", body)
	}
	if r := e.rec.reasons(); len(r) != 1 || r[0] != "auth_failed" {
		t.Fatalf("reasons %v", r)
	}
}

func TestConcurrentClients(t *testing.T) {
	e := newEnv(t, nil)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := newClient(t, e.srv)
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
		t.Error(e)
	}
}
