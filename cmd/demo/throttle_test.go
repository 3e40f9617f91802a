package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/internal/testkit"
)

// attempt posts a login form from the client address addr.
func attempt(t *testing.T, h http.Handler, addr, user, password string) *http.Response {
	t.Helper()
	form := url.Values{"user": {user}, "password": {password}}
	req := httptest.NewRequest(http.MethodPost, testOrigin+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", testOrigin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.RemoteAddr = addr
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func retryAfter(t *testing.T, res *http.Response) time.Duration {
	t.Helper()
	n, err := strconv.Atoi(res.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After %q", res.Header.Get("Retry-After"))
	require.Positive(t, n, "Retry-After %q", res.Header.Get("Retry-After"))
	return time.Duration(n) * time.Second
}

// TestLoginThrottlePerAccount: wrong passwords in a row for one account
// get it throttled (429 with Retry-After, even with the right password
// and from another address); after the window the right password works,
// and a later wrong streak starts again from zero.
func TestLoginThrottlePerAccount(t *testing.T) {
	clk := testkit.NewClock()
	h, _ := newTestApp(t, func(c *config) { c.Now = clk.Now })
	const a, b = "198.51.100.7:4000", "203.0.113.9:5000"
	for i := 0; i < accountRule.freeFailures; i++ {
		require.Equal(t, http.StatusUnauthorized, attempt(t, h, a, "admin", fmt.Sprint("guess-", i)).StatusCode, "wrong password #%d", i+1)
	}
	res := attempt(t, h, a, "admin", "battery-staple-admin")
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, "after %d wrong passwords", accountRule.freeFailures)
	assert.Contains(t, body(t, res), "Too many failed log-ins", "the 429 page does not say why")
	assert.Empty(t, res.Cookies(), "a throttled attempt set cookies")
	wait := retryAfter(t, res)
	assert.Equal(t, accountRule.base, wait, "first block")
	// Per account: another address is refused too; another account is not.
	assert.Equal(t, http.StatusTooManyRequests, attempt(t, h, b, "admin", "battery-staple-admin").StatusCode, "the account from another address")
	assert.Equal(t, http.StatusSeeOther, attempt(t, h, a, "alice", "correct-horse-alice").StatusCode, "another account from the same address")

	// One more wrong password after the window doubles the block.
	clk.Advance(wait + time.Millisecond)
	require.Equal(t, http.StatusUnauthorized, attempt(t, h, a, "admin", "guess-again").StatusCode, "after the window: want the password checked")
	res = attempt(t, h, a, "admin", "battery-staple-admin")
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, "second block (Retry-After %s)", res.Header.Get("Retry-After"))
	require.Equal(t, 2*accountRule.base, retryAfter(t, res), "second block")
	// Waiting (without guessing) is enough: after the window the right
	// password logs in.
	clk.Advance(retryAfter(t, res) + time.Millisecond)
	res = attempt(t, h, a, "admin", "battery-staple-admin")
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "right password after the window")
	require.NotEmpty(t, res.Cookies(), "right password after the window: no session")
	// The success cleared the account's streak.
	for i := 0; i < accountRule.freeFailures; i++ {
		require.Equal(t, http.StatusUnauthorized, attempt(t, h, b, "admin", "nope").StatusCode, "new streak, wrong password #%d", i+1)
	}
}

// TestLoginThrottlePerAddress: many wrong passwords from one address,
// spread over an account and made-up names, get the address throttled;
// other addresses are not, and an IPv6 host cannot escape by changing
// addresses within its /64.
func TestLoginThrottlePerAddress(t *testing.T) {
	clk := testkit.NewClock()
	h, _ := newTestApp(t, func(c *config) { c.Now = clk.Now })
	for _, addrs := range [][]string{
		{"198.51.100.20:1", "198.51.100.20:2"},
		{"[2001:db8:1:2::1]:443", "[2001:db8:1:2:ffff::9]:443"},
	} {
		for i := 0; i < addressRule.freeFailures; i++ {
			user := []string{"alice", fmt.Sprint("user", i), fmt.Sprint("other", i)}[i%3] // alice: below her own limit
			require.Equal(t, http.StatusUnauthorized, attempt(t, h, addrs[i%2], user, "wrong").StatusCode, "%s: wrong password #%d (%s)", addrs[0], i+1, user)
		}
		res := attempt(t, h, addrs[0], "alice", "correct-horse-alice")
		require.Equal(t, http.StatusTooManyRequests, res.StatusCode, "%s after %d failures", addrs[0], addressRule.freeFailures)
		clk.Advance(retryAfter(t, res) + time.Millisecond)
		require.Equal(t, http.StatusSeeOther, attempt(t, h, addrs[1], "alice", "correct-horse-alice").StatusCode, "%s after the window", addrs[1])
	}
	assert.Equal(t, http.StatusSeeOther, attempt(t, h, "192.0.2.200:9", "alice", "correct-horse-alice").StatusCode, "an unrelated address")
}

// TestLoginThrottleMemoryBound: strangers with ever new addresses and
// made-up user names cannot grow the tables past their bounds, and
// made-up names are not tracked at all.
func TestLoginThrottleMemoryBound(t *testing.T) {
	old := addressRule
	addressRule.maxKeys = 50
	t.Cleanup(func() { addressRule = old })
	th := newLoginThrottle((testkit.NewClock()).Now)
	for i := 0; i < 5000; i++ {
		addr := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		user := fmt.Sprint("stranger", i)
		if w := th.begin(user, false, addr); w != 0 {
			t.Fatalf("attempt %d blocked", i)
		}
		th.end(user, false, addr, outcomeWrong)
		if n := th.addresses.len(); n > addressRule.maxKeys {
			t.Fatalf("address table holds %d keys, bound %d", n, addressRule.maxKeys)
		}
	}
	assert.Zero(t, th.accounts.len(), "account table holds made-up names")
	assert.Equal(t, addressRule.maxKeys, th.addresses.len(), "address table keys, want it full")
	// Right passwords leave nothing behind.
	th2 := newLoginThrottle(nil)
	for i := 0; i < 1000; i++ {
		addr := fmt.Sprintf("10.1.%d.%d", i>>8&255, i&255)
		th2.begin("alice", true, addr)
		th2.end("alice", true, addr, outcomeRight)
	}
	assert.Zero(t, th2.accounts.len(), "after successful logins: account table keys")
	assert.Zero(t, th2.addresses.len(), "after successful logins: address table keys")
	// Attempts that end without a verdict (the store is down) count for
	// nothing and leave nothing behind either.
	for i := 0; i < 3*accountRule.freeFailures; i++ {
		require.Zero(t, th2.begin("alice", true, "10.3.0.1"), "attempt %d after attempts without a verdict: wait", i+1)
		th2.end("alice", true, "10.3.0.1", outcomeUnknown)
	}
	assert.Zero(t, th2.accounts.len(), "after attempts without a verdict: account table keys")
	assert.Zero(t, th2.addresses.len(), "after attempts without a verdict: address table keys")
}

// TestBackoffRules checks the table itself: doubling up to the cap, the
// forget period, one attempt at a time once failures are on record, and
// eviction of the least recently used key.
func TestBackoffRules(t *testing.T) {
	rule := throttleRule{freeFailures: 2, base: time.Second, cap: 5 * time.Second, forget: time.Minute, maxInFlight: 3, serialAfter: 1, maxKeys: 2}
	b := newBackoff(rule)
	now := time.Unix(1e9, 0)
	fail := func(key string) {
		require.Zero(t, b.wait(key, now), "%s: wait before an attempt", key)
		b.start(key, now)
		b.finish(key, now, true, true)
	}
	var got []time.Duration
	for i := 0; i < 6; i++ {
		if i > 0 {
			now = now.Add(got[i-1]) // wait out the block
		}
		fail("k")
		got = append(got, b.wait("k", now))
	}
	want := []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	assert.Equal(t, want, got, "blocks")
	// With failures on record: one attempt at a time.
	now = now.Add(5 * time.Second)
	b.start("k", now)
	assert.Equal(t, busyWait, b.wait("k", now), "second simultaneous attempt after failures: wait")
	b.finish("k", now, false, true) // right password: cleared
	assert.Zero(t, b.wait("k", now), "after a success: wait")
	assert.Zero(t, b.len(), "after a success: keys")
	// Without failures: maxInFlight at a time.
	for i := 0; i < rule.maxInFlight; i++ {
		require.Zero(t, b.wait("n", now), "attempt %d in flight: wait", i+1)
		b.start("n", now)
	}
	assert.Equal(t, busyWait, b.wait("n", now), "attempt over maxInFlight: wait")
	for i := 0; i < rule.maxInFlight; i++ {
		b.finish("n", now, false, true)
	}
	// Failures are forgotten after the forget period.
	fail("f")
	assert.Zero(t, b.wait("f", now.Add(rule.forget+time.Second)), "failures not forgotten: wait")
	// LRU: "a" used last survives "c"'s arrival; "b" is evicted.
	b = newBackoff(rule)
	fail("a")
	fail("b")
	b.wait("a", now)
	fail("c")
	require.Equal(t, 2, b.len(), "keys, bound 2")
	assert.Contains(t, b.byKey, "a", "eviction: a gone; want the least recently used (b) gone")
	assert.NotContains(t, b.byKey, "b", "eviction: b kept; want the least recently used (b) gone")
}

// TestLoginThrottleConcurrentBurst: a burst of simultaneous guesses at
// one account gets at most maxInFlight checked; once they fail the
// account is blocked, and after the block guesses go one at a time.
// Simultaneous right passwords are not refused.
func TestLoginThrottleConcurrentBurst(t *testing.T) {
	clk := testkit.NewClock()
	th := newLoginThrottle(clk.Now)
	var mu sync.Mutex
	var started []string
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Go(func() {
			addr := fmt.Sprint("10.0.0.", i)
			if th.begin("admin", true, addr) == 0 {
				mu.Lock()
				started = append(started, addr)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, started, accountRule.maxInFlight, "simultaneous guesses (of 100) at one account let through")
	for _, addr := range started {
		th.end("admin", true, addr, outcomeWrong)
	}
	w := th.begin("admin", true, "10.0.1.1")
	require.Equal(t, min(accountRule.cap, accountRule.base<<(accountRule.maxInFlight-accountRule.freeFailures)), w, "after the burst failed: wait")
	clk.Advance(w)
	require.Zero(t, th.begin("admin", true, "10.0.1.2"), "no attempt allowed after the block")
	assert.Equal(t, busyWait, th.begin("admin", true, "10.0.1.3"), "a second simultaneous attempt after failures: wait")

	// Right passwords, simultaneously, up to maxInFlight at a time.
	th = newLoginThrottle(nil)
	for range 3 {
		for i := 0; i < accountRule.maxInFlight; i++ {
			require.Zero(t, th.begin("alice", true, fmt.Sprint("10.2.0.", i)), "simultaneous login %d refused: wait", i+1)
		}
		for i := 0; i < accountRule.maxInFlight; i++ {
			th.end("alice", true, fmt.Sprint("10.2.0.", i), outcomeRight)
		}
	}
}

func TestClientKey(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.1:1234":          "192.0.2.1",
		"[::ffff:192.0.2.1]:80":   "192.0.2.1",
		"[2001:db8::1]:443":       "2001:db8::/64",
		"[2001:db8:0:0:ff::]:443": "2001:db8::/64",
		"garbage":                 "unknown",
		"":                        "unknown",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = addr
		assert.Equal(t, want, clientKey(r), "clientKey(%q)", addr)
	}
}

// TestHSTSOnlyOverTLS: responses over https carry Strict-Transport-Security;
// plain-http ones do not (browsers ignore it there).
func TestHSTSOnlyOverTLS(t *testing.T) {
	h, _ := newTestApp(t, nil)
	tlsSrv := httptest.NewTLSServer(h)
	defer tlsSrv.Close()
	res, err := tlsSrv.Client().Get(tlsSrv.URL + "/login")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, "max-age=31536000", res.Header.Get("Strict-Transport-Security"), "over TLS: Strict-Transport-Security")
	plain := httptest.NewServer(h)
	defer plain.Close()
	res, err = http.Get(plain.URL + "/login")
	require.NoError(t, err)
	res.Body.Close()
	assert.Empty(t, res.Header.Get("Strict-Transport-Security"), "over plain http: Strict-Transport-Security, want none")
}
