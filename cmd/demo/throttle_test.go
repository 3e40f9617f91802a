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
	if err != nil || n <= 0 {
		t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
	}
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
		if res := attempt(t, h, a, "admin", fmt.Sprint("guess-", i)); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password #%d: %s, want 401", i+1, res.Status)
		}
	}
	res := attempt(t, h, a, "admin", "battery-staple-admin")
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after %d wrong passwords: %s, want 429", accountRule.freeFailures, res.Status)
	}
	if page := body(t, res); !strings.Contains(page, "Too many failed log-ins") {
		t.Error("the 429 page does not say why")
	}
	if len(res.Cookies()) != 0 {
		t.Error("a throttled attempt set cookies")
	}
	wait := retryAfter(t, res)
	if wait != accountRule.base {
		t.Errorf("first block %v, want %v", wait, accountRule.base)
	}
	// Per account: another address is refused too; another account is not.
	if res := attempt(t, h, b, "admin", "battery-staple-admin"); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the account from another address: %s, want 429", res.Status)
	}
	if res := attempt(t, h, a, "alice", "correct-horse-alice"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("another account from the same address: %s, want 303", res.Status)
	}

	// One more wrong password after the window doubles the block.
	clk.Advance(wait + time.Millisecond)
	if res := attempt(t, h, a, "admin", "guess-again"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after the window: %s, want the password checked (401)", res.Status)
	}
	res = attempt(t, h, a, "admin", "battery-staple-admin")
	if res.StatusCode != http.StatusTooManyRequests || retryAfter(t, res) != 2*accountRule.base {
		t.Fatalf("second block: %s %s, want 429 for %v", res.Status, res.Header.Get("Retry-After"), 2*accountRule.base)
	}
	// Waiting (without guessing) is enough: after the window the right
	// password logs in.
	clk.Advance(retryAfter(t, res) + time.Millisecond)
	res = attempt(t, h, a, "admin", "battery-staple-admin")
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) == 0 {
		t.Fatalf("right password after the window: %s, want 303 with a session", res.Status)
	}
	// The success cleared the account's streak.
	for i := 0; i < accountRule.freeFailures; i++ {
		if res := attempt(t, h, b, "admin", "nope"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("new streak, wrong password #%d: %s, want 401", i+1, res.Status)
		}
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
			if res := attempt(t, h, addrs[i%2], user, "wrong"); res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s: wrong password #%d (%s): %s, want 401", addrs[0], i+1, user, res.Status)
			}
		}
		res := attempt(t, h, addrs[0], "alice", "correct-horse-alice")
		if res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("%s after %d failures: %s, want 429", addrs[0], addressRule.freeFailures, res.Status)
		}
		clk.Advance(retryAfter(t, res) + time.Millisecond)
		if res := attempt(t, h, addrs[1], "alice", "correct-horse-alice"); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s after the window: %s, want 303", addrs[1], res.Status)
		}
	}
	if res := attempt(t, h, "192.0.2.200:9", "alice", "correct-horse-alice"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("an unrelated address: %s, want 303", res.Status)
	}
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
	if n := th.accounts.len(); n != 0 {
		t.Errorf("account table holds %d made-up names", n)
	}
	if n := th.addresses.len(); n != addressRule.maxKeys {
		t.Errorf("address table holds %d keys, want it full at %d", n, addressRule.maxKeys)
	}
	// Right passwords leave nothing behind.
	th2 := newLoginThrottle(nil)
	for i := 0; i < 1000; i++ {
		addr := fmt.Sprintf("10.1.%d.%d", i>>8&255, i&255)
		th2.begin("alice", true, addr)
		th2.end("alice", true, addr, outcomeRight)
	}
	if a, b := th2.accounts.len(), th2.addresses.len(); a != 0 || b != 0 {
		t.Errorf("after successful logins the tables hold %d and %d keys", a, b)
	}
	// Attempts that end without a verdict (the store is down) count for
	// nothing and leave nothing behind either.
	for i := 0; i < 3*accountRule.freeFailures; i++ {
		if w := th2.begin("alice", true, "10.3.0.1"); w != 0 {
			t.Fatalf("attempt %d after attempts without a verdict: wait %v", i+1, w)
		}
		th2.end("alice", true, "10.3.0.1", outcomeUnknown)
	}
	if a, b := th2.accounts.len(), th2.addresses.len(); a != 0 || b != 0 {
		t.Errorf("after attempts without a verdict the tables hold %d and %d keys", a, b)
	}
}

// TestBackoffRules checks the table itself: doubling up to the cap, the
// forget period, one attempt at a time once failures are on record, and
// eviction of the least recently used key.
func TestBackoffRules(t *testing.T) {
	rule := throttleRule{freeFailures: 2, base: time.Second, cap: 5 * time.Second, forget: time.Minute, maxInFlight: 3, serialAfter: 1, maxKeys: 2}
	b := newBackoff(rule)
	now := time.Unix(1e9, 0)
	fail := func(key string) {
		if w := b.wait(key, now); w != 0 {
			t.Fatalf("%s: wait %v before an attempt", key, w)
		}
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
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("blocks %v, want %v", got, want)
	}
	// With failures on record: one attempt at a time.
	now = now.Add(5 * time.Second)
	b.start("k", now)
	if w := b.wait("k", now); w != busyWait {
		t.Errorf("second simultaneous attempt after failures: wait %v, want %v", w, busyWait)
	}
	b.finish("k", now, false, true) // right password: cleared
	if w := b.wait("k", now); w != 0 || b.len() != 0 {
		t.Errorf("after a success: wait %v, %d keys", w, b.len())
	}
	// Without failures: maxInFlight at a time.
	for i := 0; i < rule.maxInFlight; i++ {
		if w := b.wait("n", now); w != 0 {
			t.Fatalf("attempt %d in flight: wait %v", i+1, w)
		}
		b.start("n", now)
	}
	if w := b.wait("n", now); w != busyWait {
		t.Errorf("attempt over maxInFlight: wait %v, want %v", w, busyWait)
	}
	for i := 0; i < rule.maxInFlight; i++ {
		b.finish("n", now, false, true)
	}
	// Failures are forgotten after the forget period.
	fail("f")
	if w := b.wait("f", now.Add(rule.forget+time.Second)); w != 0 {
		t.Errorf("failures not forgotten: wait %v", w)
	}
	// LRU: "a" used last survives "c"'s arrival; "b" is evicted.
	b = newBackoff(rule)
	fail("a")
	fail("b")
	b.wait("a", now)
	fail("c")
	if b.len() != 2 {
		t.Fatalf("%d keys, bound 2", b.len())
	}
	_, hasA := b.byKey["a"]
	_, hasB := b.byKey["b"]
	if !hasA || hasB {
		t.Errorf("eviction: a kept %v, b kept %v; want the least recently used (b) gone", hasA, hasB)
	}
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
	if len(started) != accountRule.maxInFlight {
		t.Fatalf("%d of 100 simultaneous guesses at one account were let through, want %d", len(started), accountRule.maxInFlight)
	}
	for _, addr := range started {
		th.end("admin", true, addr, outcomeWrong)
	}
	w := th.begin("admin", true, "10.0.1.1")
	if want := min(accountRule.cap, accountRule.base<<(accountRule.maxInFlight-accountRule.freeFailures)); w != want {
		t.Fatalf("after the burst failed: wait %v, want %v", w, want)
	}
	clk.Advance(w)
	if th.begin("admin", true, "10.0.1.2") != 0 {
		t.Fatal("no attempt allowed after the block")
	}
	if w := th.begin("admin", true, "10.0.1.3"); w != busyWait {
		t.Errorf("a second simultaneous attempt after failures: wait %v, want %v", w, busyWait)
	}

	// Right passwords, simultaneously, up to maxInFlight at a time.
	th = newLoginThrottle(nil)
	for range 3 {
		for i := 0; i < accountRule.maxInFlight; i++ {
			if w := th.begin("alice", true, fmt.Sprint("10.2.0.", i)); w != 0 {
				t.Fatalf("simultaneous login %d refused: %v", i+1, w)
			}
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
		if got := clientKey(r); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", addr, got, want)
		}
	}
}

// TestHSTSOnlyOverTLS: responses over https carry Strict-Transport-Security;
// plain-http ones do not (browsers ignore it there).
func TestHSTSOnlyOverTLS(t *testing.T) {
	h, _ := newTestApp(t, nil)
	tlsSrv := httptest.NewTLSServer(h)
	defer tlsSrv.Close()
	res, err := tlsSrv.Client().Get(tlsSrv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Errorf("over TLS: Strict-Transport-Security %q, want max-age=31536000", got)
	}
	plain := httptest.NewServer(h)
	defer plain.Close()
	res, err = http.Get(plain.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("Strict-Transport-Security"); got != "" {
		t.Errorf("over plain http: Strict-Transport-Security %q, want none", got)
	}
}
