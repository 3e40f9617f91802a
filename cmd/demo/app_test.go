package main

import (
	"bytes"
	"encoding/json"
	"github.com/sealedsession/sealedsession/httpx"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sealedsession/sealedsession/sealed"
)

const testOrigin = "http://127.0.0.1:8080"

// newTestApp builds the demo with a memory store and a fresh key ring.
func newTestApp(t *testing.T, mod func(*config)) (http.Handler, string) {
	t.Helper()
	k, err := sealed.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg := config{
		DataDir:     t.TempDir(),
		Store:       "memory",
		SessionKeys: k.Export(),
		BcryptCost:  bcrypt.MinCost,
		Idle:        10 * time.Minute,
		Absolute:    time.Hour,
	}
	if mod != nil {
		mod(&cfg)
	}
	h, cleanup, err := newApp(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cleanup(); err != nil {
			t.Error(err)
		}
	})
	return h, cfg.SessionKeys
}

// client is a minimal browser: it keeps cookies by name and sends the
// headers a same-origin browser request carries.
type client struct {
	t    *testing.T
	h    http.Handler
	jar  map[string]string
	last []*http.Cookie // cookies set by the last response
}

func newClient(t *testing.T, h http.Handler) *client {
	return &client{t: t, h: h, jar: make(map[string]string)}
}

func (c *client) cookieHeader() string {
	var parts []string
	for k, v := range c.jar {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

func (c *client) do(method, path string, form url.Values, hdr map[string]string) *http.Response {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, testOrigin+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method != http.MethodGet {
		req.Header.Set("Origin", testOrigin)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	if len(c.jar) > 0 {
		req.Header.Set("Cookie", c.cookieHeader())
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	res := rec.Result()
	c.last = res.Cookies()
	for _, ck := range c.last {
		if ck.MaxAge < 0 {
			delete(c.jar, ck.Name)
		} else {
			c.jar[ck.Name] = ck.Value
		}
	}
	return res
}

func (c *client) login(user, password string) *http.Response {
	c.t.Helper()
	return c.do(http.MethodPost, "/login", url.Values{"user": {user}, "password": {password}}, nil)
}

func (c *client) session() map[string]any {
	c.t.Helper()
	res := c.do(http.MethodGet, "/api/session", nil, nil)
	if res.StatusCode != http.StatusOK {
		c.t.Fatalf("/api/session: %s", res.Status)
	}
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		c.t.Fatal(err)
	}
	return m
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLogin(t *testing.T) {
	h, _ := newTestApp(t, nil)
	c := newClient(t, h)

	res := c.login("alice", "wrong")
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %s, want 401", res.Status)
	}
	if !strings.Contains(body(t, res), "Wrong user name or password") {
		t.Error("wrong password: no error message on the page")
	}
	if len(c.jar) != 0 {
		t.Errorf("wrong password set cookies: %v", c.jar)
	}
	if res := c.login("nobody", "correct-horse-alice"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unknown user: %s, want 401", res.Status)
	}

	res = c.login("alice", "correct-horse-alice")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("right password: %s, want 303", res.Status)
	}
	var sc *http.Cookie
	for _, ck := range c.last {
		if ck.Name == "__Host-session" {
			sc = ck
		}
	}
	if sc == nil {
		t.Fatalf("no __Host-session cookie after login: %v", c.last)
	}
	if !sc.Secure || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Domain != "" {
		t.Errorf("cookie attributes: %+v", sc)
	}
	home := body(t, c.do(http.MethodGet, "/", nil, nil))
	if !strings.Contains(home, "Welcome, alice") {
		t.Error("no welcome flash after login")
	}
	if strings.Contains(body(t, c.do(http.MethodGet, "/", nil, nil)), "Welcome, alice") {
		t.Error("flash shown twice")
	}
	s := c.session()
	if s["authenticated"] != true || s["user"] != "alice" || s["generation"] != float64(1) {
		t.Errorf("/api/session after login: %v", s)
	}
}

func TestAPISessionFields(t *testing.T) {
	h, _ := newTestApp(t, nil)
	c := newClient(t, h)
	anon := c.session()
	for _, k := range []string{"authenticated", "user", "session", "generation", "issued_at", "idle_deadline", "absolute_deadline", "cookie_bytes"} {
		if _, ok := anon[k]; !ok {
			t.Errorf("anonymous /api/session lacks %q: %v", k, anon)
		}
	}
	if anon["authenticated"] != false || anon["session"] != "" || anon["issued_at"] != nil {
		t.Errorf("anonymous: %v", anon)
	}
	if len(c.last) != 0 {
		t.Errorf("anonymous GET set a cookie: %v", c.last)
	}

	before := time.Now().Add(-time.Second)
	c.login("alice", "correct-horse-alice")
	s := c.session()
	tag, _ := s["session"].(string)
	if len(tag) != 8 {
		t.Errorf("session tag %q, want 8 hex digits", tag)
	}
	parse := func(k string) time.Time {
		v, _ := s[k].(string)
		tm, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			t.Fatalf("%s = %v: %v", k, s[k], err)
		}
		return tm
	}
	issued, idle, abs := parse("issued_at"), parse("idle_deadline"), parse("absolute_deadline")
	if issued.Before(before) || issued.After(time.Now().Add(time.Second)) {
		t.Errorf("issued_at %v not now", issued)
	}
	if d := abs.Sub(issued); d != time.Hour {
		t.Errorf("absolute deadline %v after issue, want 1h (-absolute)", d)
	}
	if d := idle.Sub(issued); d < 10*time.Minute-time.Second || d > 10*time.Minute+2*time.Second {
		t.Errorf("idle deadline %v after issue, want about 10m (-idle)", d)
	}
	cb, _ := s["cookie_bytes"].(float64)
	if want := len("__Host-session=") + len(c.jar["__Host-session"]); int(cb) != want {
		t.Errorf("cookie_bytes %v, want %d", cb, want)
	}
}

// addTen presses "add 10 items" and returns the redirect location.
func addTen(t *testing.T, c *client) string {
	t.Helper()
	res := c.do(http.MethodPost, "/cart/add", url.Values{"count": {"10"}}, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add 10: %s: %s", res.Status, body(t, res))
	}
	return res.Header.Get("Location")
}

func sessionCookies(jar map[string]string) (n, bytes int) {
	for k, v := range jar {
		if strings.HasPrefix(k, "__Host-session") {
			n++
			bytes += len(k) + 1 + len(v)
		}
	}
	return n, bytes
}

// At the default budget (which fits a default nginx) a growing cart is
// refused with the cart page's message while the session is one cookie,
// and no response ever carries more Set-Cookie bytes than the budget.
func TestCartRefusedAtDefaultBudget(t *testing.T) {
	h, _ := newTestApp(t, nil)
	c := newClient(t, h)
	c.login("alice", "correct-horse-alice")
	for i := 0; i < 40; i++ {
		res := c.do(http.MethodPost, "/cart/add", url.Values{"count": {"10"}}, nil)
		hdr := 0
		for _, l := range res.Header.Values("Set-Cookie") {
			hdr += len("Set-Cookie: ") + len(l) + 2
		}
		if hdr > httpx.DefaultMaxHeaderBytes {
			t.Fatalf("response carries %d bytes of Set-Cookie lines, over the default budget %d", hdr, httpx.DefaultMaxHeaderBytes)
		}
		if n, _ := sessionCookies(c.jar); n != 1 {
			t.Fatalf("%d session cookies at the default budget, want 1", n)
		}
		if res.Header.Get("Location") == "/cart?msg=full" {
			page := body(t, c.do(http.MethodGet, "/cart?msg=full", nil, nil))
			if !strings.Contains(page, "The cart is full") || !strings.Contains(page, `<span id="cart-count">`+itoa(i*10)+`</span>`) {
				t.Fatalf("refusal page without the message or the previous %d lines", i*10)
			}
			if i == 0 {
				t.Fatal("refused at once")
			}
			return
		}
	}
	t.Fatal("the cart was never refused")
}

func TestCartChunksThenRefusedAtBudget(t *testing.T) {
	h, _ := newTestApp(t, func(c *config) { c.MaxHeaderBytes = 12288 })
	c := newClient(t, h)
	c.login("alice", "correct-horse-alice")
	c.do(http.MethodGet, "/", nil, nil) // shows (and so removes) the welcome flash

	sawChunks := false
	for i := 0; i < 40; i++ {
		loc := addTen(t, c)
		n, _ := sessionCookies(c.jar)
		if n > 1 {
			sawChunks = true
			if _, ok := c.jar["__Host-session-1"]; !ok {
				t.Fatalf("%d cookies but no __Host-session-1: %v", n, c.jar)
			}
		}
		if loc == "/cart?msg=full" {
			if !sawChunks {
				t.Fatal("refused before the session was ever chunked")
			}
			// The refused request may re-seal the session (the previous
			// cart was put back), but never with more than the budget.
			_, size := sessionCookies(c.jar)
			jarBefore := c.cookieHeader()
			page := body(t, c.do(http.MethodGet, "/cart?msg=full", nil, nil))
			if !strings.Contains(page, "The cart is full") {
				t.Error("no refusal message on the cart page")
			}
			if !strings.Contains(page, `<span id="cart-count">`+itoa(i*10)+`</span>`) {
				t.Errorf("cart after refusal does not have the previous %d lines", i*10)
			}
			if c.cookieHeader() != jarBefore {
				t.Errorf("viewing the cart after refusal changed the cookies: %.300v", c.last)
			}
			if size > 12288 {
				t.Errorf("session cookies are %d bytes, over the 12288 budget", size)
			}
			if s := c.session(); s["authenticated"] != true {
				t.Errorf("session lost after refusal: %v", s)
			}
			// Emptying the cart shrinks the session back to one cookie.
			c.do(http.MethodPost, "/cart/clear", url.Values{}, nil)
			if n, _ := sessionCookies(c.jar); n != 1 {
				t.Errorf("after emptying the cart: %d session cookies, want 1 (%v)", n, c.jar)
			}
			return
		}
		if loc != "/cart?msg=added" {
			t.Fatalf("add 10: redirect to %q", loc)
		}
	}
	t.Fatal("the cart was never refused")
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestLogoutClearsAndRevokes(t *testing.T) {
	h, _ := newTestApp(t, nil)
	c := newClient(t, h)
	c.login("alice", "correct-horse-alice")
	addTen(t, c)
	stolen := c.cookieHeader()

	res := c.do(http.MethodPost, "/logout", url.Values{}, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s", res.Status)
	}
	if len(c.jar) != 0 {
		t.Errorf("cookies left after logout: %v", c.jar)
	}
	if s := c.session(); s["authenticated"] != false {
		t.Errorf("after logout: %v", s)
	}
	// Replaying the cookie captured before logout must fail.
	thief := newClient(t, h)
	res = thief.do(http.MethodGet, "/api/session", nil, map[string]string{"Cookie": stolen})
	var s map[string]any
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	if s["authenticated"] != false {
		t.Errorf("replayed cookie still authenticated after logout: %v", s)
	}
}

func TestLogoutEverywhere(t *testing.T) {
	h, _ := newTestApp(t, nil)
	laptop, phone, other := newClient(t, h), newClient(t, h), newClient(t, h)
	laptop.login("alice", "correct-horse-alice")
	phone.login("alice", "correct-horse-alice")
	other.login("admin", "battery-staple-admin")

	res := phone.do(http.MethodPost, "/logout-everywhere", url.Values{}, nil)
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != "/?msg=bye-all" {
		t.Fatalf("logout everywhere: %s to %q", res.Status, loc)
	}
	if len(phone.jar) != 0 {
		t.Errorf("phone keeps cookies: %v", phone.jar)
	}
	if s := laptop.session(); s["authenticated"] != false {
		t.Errorf("laptop still logged in after log out everywhere: %v", s)
	}
	if s := other.session(); s["authenticated"] != true {
		t.Errorf("another user was logged out too: %v", s)
	}
	// Logging in again works (new epoch captured).
	laptop.login("alice", "correct-horse-alice")
	if s := laptop.session(); s["authenticated"] != true {
		t.Errorf("cannot log in again: %v", s)
	}
}

func TestAdminForceLogout(t *testing.T) {
	h, _ := newTestApp(t, nil)
	alice, admin := newClient(t, h), newClient(t, h)
	alice.login("alice", "correct-horse-alice")
	admin.login("admin", "battery-staple-admin")

	if res := alice.do(http.MethodGet, "/admin", nil, nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("alice GET /admin: %s, want 403", res.Status)
	}
	if res := alice.do(http.MethodPost, "/admin/force-logout", url.Values{"user": {"admin"}}, nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("alice force-logout: %s, want 403", res.Status)
	}
	if s := admin.session(); s["authenticated"] != true {
		t.Fatalf("admin logged out by alice's attempt: %v", s)
	}
	if res := newClient(t, h).do(http.MethodGet, "/admin", nil, nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("anonymous GET /admin: %s, want redirect to login", res.Status)
	}
	res := admin.do(http.MethodGet, "/admin", nil, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("admin GET /admin: %s", res.Status)
	}
	if page := body(t, res); !strings.Contains(page, "<code>alice</code>: 1 session(s)") {
		t.Error("the admin page does not list alice's session before the force-logout")
	}
	if res := admin.do(http.MethodPost, "/admin/force-logout", url.Values{"user": {"mallory"}}, nil); res.StatusCode != http.StatusBadRequest {
		t.Errorf("force-logout of an unknown user: %s, want 400", res.Status)
	}
	res = admin.do(http.MethodPost, "/admin/force-logout", url.Values{"user": {"alice"}}, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("force-logout: %s", res.Status)
	}
	if s := alice.session(); s["authenticated"] != false {
		t.Errorf("alice still logged in after force-logout: %v", s)
	}
	page := body(t, admin.do(http.MethodGet, "/admin", nil, nil))
	if !strings.Contains(page, "Every session of alice issued before now has ended") {
		t.Error("no confirmation flash on the admin page")
	}
	// ForceLogout drops the user's tracked sessions: none stays listed.
	if !strings.Contains(page, "<code>alice</code>: 0 session(s)") {
		t.Error("the admin page still lists alice's force-logged-out session")
	}
}

func TestCrossOriginRefused(t *testing.T) {
	h, _ := newTestApp(t, nil)
	c := newClient(t, h)
	c.login("alice", "correct-horse-alice")
	for name, hdr := range map[string]map[string]string{
		"Sec-Fetch-Site cross-site": {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
		"Origin mismatch":           {"Sec-Fetch-Site": "", "Origin": "https://evil.example"},
	} {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/logout", "/logout-everywhere", "/cart/add", "/login"} {
				res := c.do(http.MethodPost, path, url.Values{"user": {"alice"}, "password": {"correct-horse-alice"}}, hdr)
				if res.StatusCode != http.StatusForbidden {
					t.Errorf("cross-origin POST %s: %s, want 403", path, res.Status)
				}
			}
			if s := c.session(); s["authenticated"] != true || s["generation"] != float64(1) {
				t.Errorf("session changed by cross-origin requests: %v", s)
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	h, _ := newTestApp(t, nil)
	res := newClient(t, h).do(http.MethodGet, "/login", nil, nil)
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	page := body(t, res)
	for _, u := range demoUsers {
		if !strings.Contains(page, u.Password) {
			t.Errorf("login page does not show %s's demo password", u.Name)
		}
	}
}

func TestKeyFileGeneratedOnceAndNeverLogged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var logs bytes.Buffer
	cfg := config{DataDir: dir, BcryptCost: bcrypt.MinCost, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	h, cleanup, err := newApp(cfg) // default store: bolt in the data folder
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, h)
	c.login("alice", "correct-horse-alice")
	if err := cleanup(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data folder: %v %v, want mode 0700", fi.Mode(), err)
	}
	kf := filepath.Join(dir, keyFileName)
	fi, err = os.Stat(kf)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, want mode 0600", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sessions.db")); err != nil {
		t.Errorf("default bolt store not in the data folder: %v", err)
	}
	keyText, _ := os.ReadFile(kf)
	ring, err := sealed.ParseKeyring(strings.TrimSpace(string(keyText)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), ring.Primary().Export()) {
		t.Error("the key was logged")
	}
	if !strings.Contains(logs.String(), kf) {
		t.Errorf("the log does not say where the key file is:\n%s", logs.String())
	}

	// A restart reuses the key file (and the store): the session survives.
	h2, cleanup2, err := newApp(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup2()
	c.h = h2
	if s := c.session(); s["authenticated"] != true {
		t.Errorf("session lost across a restart: %v", s)
	}
	again, _ := os.ReadFile(kf)
	if !bytes.Equal(again, keyText) {
		t.Error("key file rewritten on restart")
	}

	// A key file readable by others is refused.
	if err := os.Chmod(kf, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := newApp(config{DataDir: dir, Store: "memory", BcryptCost: bcrypt.MinCost}); err == nil {
		t.Error("a world-readable key file was accepted")
	}
}

func TestBadConfig(t *testing.T) {
	for name, cfg := range map[string]config{
		"bad keys":           {SessionKeys: "not-a-key", Store: "memory"},
		"bad store":          {Store: "postgres://x"},
		"no path":            {Store: "bolt:"},
		"idle over absolute": {Store: "memory", Idle: 48 * time.Hour},
		"tiny budget":        {Store: "memory", MaxHeaderBytes: 100},
	} {
		cfg.DataDir = t.TempDir()
		cfg.BcryptCost = bcrypt.MinCost
		if _, _, err := newApp(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		} else if cfg.SessionKeys != "" && strings.Contains(err.Error(), cfg.SessionKeys) {
			t.Errorf("%s: error repeats the key text: %v", name, err)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: the error takes more than one line: %q", name, err)
		}
	}
}

func TestRunUsage(t *testing.T) {
	env := func(string) string { return "" }
	for _, args := range [][]string{{"-nope"}, {"extra"}, {"-tls-cert", "x.pem"}, {"-idle", "soon"}} {
		var out bytes.Buffer
		if code := run(args, env, &out); code != 2 {
			t.Errorf("run %v = %d, want 2 (%s)", args, code, out.String())
		}
	}
	var out bytes.Buffer
	if code := run([]string{"-data", t.TempDir(), "-store", "nosuch:"}, env, &out); code != 1 {
		t.Errorf("bad store: exit %d, want 1", code)
	}
}
