package main

import (
	"bytes"
	"encoding/json"
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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/sealed"
)

const testOrigin = "http://127.0.0.1:8080"

// newTestApp builds the demo with a memory store and a fresh key ring.
func newTestApp(t *testing.T, mod func(*config)) (http.Handler, string) {
	t.Helper()
	k, err := sealed.GenerateKey()
	require.NoError(t, err)
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
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, cleanup())
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
	require.Equal(c.t, http.StatusOK, res.StatusCode, "/api/session")
	var m map[string]any
	require.NoError(c.t, json.NewDecoder(res.Body).Decode(&m), "/api/session")
	return m
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(b)
}

func TestLogin(t *testing.T) {
	h, _ := newTestApp(t, nil)
	c := newClient(t, h)

	res := c.login("alice", "wrong")
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "wrong password")
	assert.Contains(t, body(t, res), "Wrong user name or password", "wrong password: no error message on the page")
	assert.Empty(t, c.jar, "wrong password set cookies")
	require.Equal(t, http.StatusUnauthorized, c.login("nobody", "correct-horse-alice").StatusCode, "unknown user")

	res = c.login("alice", "correct-horse-alice")
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "right password")
	var sc *http.Cookie
	for _, ck := range c.last {
		if ck.Name == "__Host-session" {
			sc = ck
		}
	}
	require.NotNil(t, sc, "no __Host-session cookie after login: %v", c.last)
	assert.True(t, sc.Secure, "cookie attributes: %+v", sc)
	assert.True(t, sc.HttpOnly, "cookie attributes: %+v", sc)
	assert.Equal(t, http.SameSiteLaxMode, sc.SameSite, "cookie attributes: %+v", sc)
	assert.Equal(t, "/", sc.Path, "cookie attributes: %+v", sc)
	assert.Empty(t, sc.Domain, "cookie attributes: %+v", sc)
	home := body(t, c.do(http.MethodGet, "/", nil, nil))
	assert.Contains(t, home, "Welcome, alice", "no welcome flash after login")
	assert.NotContains(t, body(t, c.do(http.MethodGet, "/", nil, nil)), "Welcome, alice", "flash shown twice")
	s := c.session()
	assert.Equal(t, true, s["authenticated"], "/api/session after login: %v", s)
	assert.Equal(t, "alice", s["user"], "/api/session after login: %v", s)
	assert.Equal(t, float64(1), s["generation"], "/api/session after login: %v", s)
}

func TestAPISessionFields(t *testing.T) {
	h, _ := newTestApp(t, nil)
	c := newClient(t, h)
	anon := c.session()
	for _, k := range []string{"authenticated", "user", "session", "generation", "issued_at", "idle_deadline", "absolute_deadline", "cookie_bytes"} {
		assert.Contains(t, anon, k, "anonymous /api/session lacks %q", k)
	}
	assert.Equal(t, false, anon["authenticated"], "anonymous: %v", anon)
	assert.Equal(t, "", anon["session"], "anonymous: %v", anon)
	assert.Nil(t, anon["issued_at"], "anonymous: %v", anon)
	assert.Empty(t, c.last, "anonymous GET set a cookie")

	before := time.Now().Add(-time.Second)
	c.login("alice", "correct-horse-alice")
	s := c.session()
	tag, _ := s["session"].(string)
	assert.Len(t, tag, 8, "session tag %q, want 8 hex digits", tag)
	parse := func(k string) time.Time {
		v, _ := s[k].(string)
		tm, err := time.Parse(time.RFC3339Nano, v)
		require.NoError(t, err, "%s = %v", k, s[k])
		return tm
	}
	issued, idle, abs := parse("issued_at"), parse("idle_deadline"), parse("absolute_deadline")
	assert.WithinRange(t, issued, before, time.Now().Add(time.Second), "issued_at not now")
	assert.Equal(t, time.Hour, abs.Sub(issued), "absolute deadline after issue, want 1h (-absolute)")
	d := idle.Sub(issued)
	assert.GreaterOrEqual(t, d, 10*time.Minute-time.Second, "idle deadline after issue, want about 10m (-idle)")
	assert.LessOrEqual(t, d, 10*time.Minute+2*time.Second, "idle deadline after issue, want about 10m (-idle)")
	cb, _ := s["cookie_bytes"].(float64)
	assert.Equal(t, len("__Host-session=")+len(c.jar["__Host-session"]), int(cb), "cookie_bytes")
}

// addTen presses "add 10 items" and returns the redirect location.
func addTen(t *testing.T, c *client) string {
	t.Helper()
	res := c.do(http.MethodPost, "/cart/add", url.Values{"count": {"10"}}, nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "add 10: %s", body(t, res))
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
		require.LessOrEqual(t, hdr, httpx.DefaultMaxHeaderBytes, "bytes of Set-Cookie lines in the response, over the default budget")
		n, _ := sessionCookies(c.jar)
		require.Equal(t, 1, n, "session cookies at the default budget")
		if res.Header.Get("Location") == "/cart?msg=full" {
			page := body(t, c.do(http.MethodGet, "/cart?msg=full", nil, nil))
			require.Contains(t, page, "The cart is full", "refusal page without the message or the previous %d lines", i*10)
			require.Contains(t, page, `<span id="cart-count">`+itoa(i*10)+`</span>`, "refusal page without the message or the previous %d lines", i*10)
			require.NotZero(t, i, "refused at once")
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
			require.Contains(t, c.jar, "__Host-session-1", "%d cookies but no __Host-session-1", n)
		}
		if loc == "/cart?msg=full" {
			require.True(t, sawChunks, "refused before the session was ever chunked")
			// The refused request may re-seal the session (the previous
			// cart was put back), but never with more than the budget.
			_, size := sessionCookies(c.jar)
			jarBefore := c.cookieHeader()
			page := body(t, c.do(http.MethodGet, "/cart?msg=full", nil, nil))
			assert.Contains(t, page, "The cart is full", "no refusal message on the cart page")
			assert.Contains(t, page, `<span id="cart-count">`+itoa(i*10)+`</span>`, "cart after refusal does not have the previous %d lines", i*10)
			assert.Equal(t, jarBefore, c.cookieHeader(), "viewing the cart after refusal changed the cookies: %.300v", c.last)
			assert.LessOrEqual(t, size, 12288, "session cookie bytes, over the 12288 budget")
			s := c.session()
			assert.Equal(t, true, s["authenticated"], "session lost after refusal: %v", s)
			// Emptying the cart shrinks the session back to one cookie.
			c.do(http.MethodPost, "/cart/clear", url.Values{}, nil)
			n, _ = sessionCookies(c.jar)
			assert.Equal(t, 1, n, "session cookies after emptying the cart (%v)", c.jar)
			return
		}
		require.Equal(t, "/cart?msg=added", loc, "add 10: redirect")
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
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "logout")
	assert.Empty(t, c.jar, "cookies left after logout")
	after := c.session()
	assert.Equal(t, false, after["authenticated"], "after logout: %v", after)
	// Replaying the cookie captured before logout must fail.
	thief := newClient(t, h)
	res = thief.do(http.MethodGet, "/api/session", nil, map[string]string{"Cookie": stolen})
	var s map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&s))
	assert.Equal(t, false, s["authenticated"], "replayed cookie still authenticated after logout: %v", s)
}

func TestLogoutEverywhere(t *testing.T) {
	h, _ := newTestApp(t, nil)
	laptop, phone, other := newClient(t, h), newClient(t, h), newClient(t, h)
	laptop.login("alice", "correct-horse-alice")
	phone.login("alice", "correct-horse-alice")
	other.login("admin", "battery-staple-admin")

	res := phone.do(http.MethodPost, "/logout-everywhere", url.Values{}, nil)
	loc := res.Header.Get("Location")
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "logout everywhere: to %q", loc)
	require.Equal(t, "/?msg=bye-all", loc, "logout everywhere: %s", res.Status)
	assert.Empty(t, phone.jar, "phone keeps cookies")
	s := laptop.session()
	assert.Equal(t, false, s["authenticated"], "laptop still logged in after log out everywhere: %v", s)
	s = other.session()
	assert.Equal(t, true, s["authenticated"], "another user was logged out too: %v", s)
	// Logging in again works (new epoch captured).
	laptop.login("alice", "correct-horse-alice")
	s = laptop.session()
	assert.Equal(t, true, s["authenticated"], "cannot log in again: %v", s)
}

func TestAdminForceLogout(t *testing.T) {
	h, _ := newTestApp(t, nil)
	alice, admin := newClient(t, h), newClient(t, h)
	alice.login("alice", "correct-horse-alice")
	admin.login("admin", "battery-staple-admin")

	assert.Equal(t, http.StatusForbidden, alice.do(http.MethodGet, "/admin", nil, nil).StatusCode, "alice GET /admin")
	assert.Equal(t, http.StatusForbidden, alice.do(http.MethodPost, "/admin/force-logout", url.Values{"user": {"admin"}}, nil).StatusCode, "alice force-logout")
	s := admin.session()
	require.Equal(t, true, s["authenticated"], "admin logged out by alice's attempt: %v", s)
	assert.Equal(t, http.StatusSeeOther, newClient(t, h).do(http.MethodGet, "/admin", nil, nil).StatusCode, "anonymous GET /admin: want redirect to login")
	res := admin.do(http.MethodGet, "/admin", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, "admin GET /admin")
	assert.Contains(t, body(t, res), "<code>alice</code>: 1 session(s)", "the admin page does not list alice's session before the force-logout")
	assert.Equal(t, http.StatusBadRequest, admin.do(http.MethodPost, "/admin/force-logout", url.Values{"user": {"mallory"}}, nil).StatusCode, "force-logout of an unknown user")
	res = admin.do(http.MethodPost, "/admin/force-logout", url.Values{"user": {"alice"}}, nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "force-logout")
	s = alice.session()
	assert.Equal(t, false, s["authenticated"], "alice still logged in after force-logout: %v", s)
	page := body(t, admin.do(http.MethodGet, "/admin", nil, nil))
	assert.Contains(t, page, "Every session of alice issued before now has ended", "no confirmation flash on the admin page")
	// ForceLogout drops the user's tracked sessions: none stays listed.
	assert.Contains(t, page, "<code>alice</code>: 0 session(s)", "the admin page still lists alice's force-logged-out session")
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
				assert.Equal(t, http.StatusForbidden, res.StatusCode, "cross-origin POST %s", path)
			}
			s := c.session()
			assert.Equal(t, true, s["authenticated"], "session changed by cross-origin requests: %v", s)
			assert.Equal(t, float64(1), s["generation"], "session changed by cross-origin requests: %v", s)
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	h, _ := newTestApp(t, nil)
	res := newClient(t, h).do(http.MethodGet, "/login", nil, nil)
	csp := res.Header.Get("Content-Security-Policy")
	assert.Contains(t, csp, "default-src 'none'", "CSP")
	assert.NotContains(t, csp, "unsafe-inline", "CSP")
	page := body(t, res)
	for _, u := range demoUsers {
		assert.Contains(t, page, u.Password, "login page does not show %s's demo password", u.Name)
	}
}

func TestKeyFileGeneratedOnceAndNeverLogged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var logs bytes.Buffer
	cfg := config{DataDir: dir, BcryptCost: bcrypt.MinCost, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	h, cleanup, err := newApp(cfg) // default store: bolt in the data folder
	require.NoError(t, err)
	c := newClient(t, h)
	c.login("alice", "correct-horse-alice")
	require.NoError(t, cleanup())
	fi, err := os.Stat(dir)
	if assert.NoError(t, err, "data folder") {
		assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "data folder mode")
	}
	kf := filepath.Join(dir, keyFileName)
	fi, err = os.Stat(kf)
	require.NoError(t, err, "key file")
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "key file mode")
	_, err = os.Stat(filepath.Join(dir, "sessions.db"))
	assert.NoError(t, err, "default bolt store not in the data folder")
	keyText, _ := os.ReadFile(kf)
	ring, err := sealed.ParseKeyring(strings.TrimSpace(string(keyText)))
	require.NoError(t, err)
	// Compared, not printed: key material.
	assert.False(t, strings.Contains(logs.String(), ring.Primary().Export()), "the key was logged")
	assert.Contains(t, logs.String(), kf, "the log does not say where the key file is")

	// A restart reuses the key file (and the store): the session survives.
	h2, cleanup2, err := newApp(cfg)
	require.NoError(t, err)
	defer cleanup2()
	c.h = h2
	s := c.session()
	assert.Equal(t, true, s["authenticated"], "session lost across a restart: %v", s)
	again, _ := os.ReadFile(kf)
	assert.True(t, bytes.Equal(again, keyText), "key file rewritten on restart")

	// A key file readable by others is refused.
	require.NoError(t, os.Chmod(kf, 0o644))
	_, _, err = newApp(config{DataDir: dir, Store: "memory", BcryptCost: bcrypt.MinCost})
	assert.Error(t, err, "a world-readable key file was accepted")
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
		if _, _, err := newApp(cfg); assert.Error(t, err, "%s: accepted", name) {
			if cfg.SessionKeys != "" {
				assert.NotContains(t, err.Error(), cfg.SessionKeys, "%s: error repeats the key text", name)
			}
			assert.NotContains(t, err.Error(), "\n", "%s: the error takes more than one line", name)
		}
	}
}

func TestRunUsage(t *testing.T) {
	env := func(string) string { return "" }
	for _, args := range [][]string{{"-nope"}, {"extra"}, {"-tls-cert", "x.pem"}, {"-idle", "soon"}} {
		var out bytes.Buffer
		code := run(args, env, &out)
		assert.Equal(t, 2, code, "run %v (%s)", args, out.String())
	}
	var out bytes.Buffer
	assert.Equal(t, 1, run([]string{"-data", t.TempDir(), "-store", "nosuch:"}, env, &out), "bad store: exit code")
}
