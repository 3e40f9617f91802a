package main

import (
	"container/list"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sealedsession/sealedsession/httpx"
)

// Login throttling: per-account and per-address backoff.
//
// Every login attempt counts as a failure when it starts (so that a burst
// of concurrent guesses cannot all slip in before the first one fails)
// and is taken back when the password is right. Once a key has
// freeFailures failures in a row, it is blocked for base, then twice as
// long after each further failure, up to a cap; a blocked attempt is
// answered 429 with Retry-After, before any password hashing, and does
// not count (so waiting out the block is enough). A key with no failure
// for its forget period starts again from zero.
//
// Keys:
//   - the account, for accounts that exist only: a made-up name has no
//     account to protect, and tracking it would let strangers fill the
//     table. A right password clears the account's failures. Anyone can
//     slow down logins to a known account this way (the price of
//     per-account throttling); the cap keeps that to a minute at a time.
//   - the client address (IPv4, or the /64 of an IPv6 address, which one
//     host usually owns whole), as the connection gives it (the demo sits
//     behind no proxy). A right password takes back only its own attempt,
//     so logging in to one's own account does not reset the address.
//
// Memory is bounded: each table is an LRU map of at most a fixed number of
// keys. When a table is full, the least recently used key is forgotten;
// an attacker who churns the address table needs that many addresses,
// each of which gets only freeFailures guesses.

// throttleRule is the backoff of one kind of key.
type throttleRule struct {
	freeFailures int           // failures in a row before the first block
	base         time.Duration // the first block
	cap          time.Duration // the longest block
	forget       time.Duration // failures older than this are forgotten
	maxKeys      int           // the table's bound
}

// Rules of the demo. Variables so that tests can shrink the tables.
var (
	accountRule = throttleRule{freeFailures: 5, base: time.Second, cap: time.Minute, forget: 15 * time.Minute, maxKeys: 1024}
	addressRule = throttleRule{freeFailures: 10, base: time.Second, cap: 15 * time.Minute, forget: time.Hour, maxKeys: 8192}
)

// backoff is a bounded LRU table of failure counts for one kind of key.
// It is safe for concurrent use.
type backoff struct {
	rule throttleRule

	mu    sync.Mutex
	byKey map[string]*list.Element // of *backoffEntry
	lru   list.List                // front: most recently used
}

type backoffEntry struct {
	key          string
	failures     int
	lastFailure  time.Time
	blockedUntil time.Time
}

func newBackoff(rule throttleRule) *backoff {
	return &backoff{rule: rule, byKey: make(map[string]*list.Element)}
}

// entry returns key's entry, or nil if it has none or its failures are
// forgotten. It marks the entry as used.
func (b *backoff) entry(key string, now time.Time) *backoffEntry {
	el, ok := b.byKey[key]
	if !ok {
		return nil
	}
	e := el.Value.(*backoffEntry)
	if now.Sub(e.lastFailure) > b.rule.forget {
		b.lru.Remove(el)
		delete(b.byKey, key)
		return nil
	}
	b.lru.MoveToFront(el)
	return e
}

// wait returns how long key is still blocked (0: not blocked).
func (b *backoff) wait(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.entry(key, now); e != nil && now.Before(e.blockedUntil) {
		return e.blockedUntil.Sub(now)
	}
	return 0
}

// fail records a failure of key, evicting the least recently used key if
// the table is full.
func (b *backoff) fail(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entry(key, now)
	if e == nil {
		for len(b.byKey) >= b.rule.maxKeys {
			old := b.lru.Back()
			b.lru.Remove(old)
			delete(b.byKey, old.Value.(*backoffEntry).key)
		}
		e = &backoffEntry{key: key}
		b.byKey[key] = b.lru.PushFront(e)
	}
	e.failures++
	e.lastFailure = now
	b.block(e, now)
}

// block sets e's block from its failure count.
func (b *backoff) block(e *backoffEntry, now time.Time) {
	if over := e.failures - b.rule.freeFailures; over >= 0 {
		d := b.rule.cap
		if over < 30 && b.rule.base<<over < b.rule.cap {
			d = b.rule.base << over
		}
		e.blockedUntil = now.Add(d)
	} else {
		e.blockedUntil = time.Time{}
	}
}

// undo takes back one failure of key (an attempt that turned out right).
func (b *backoff) undo(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.entry(key, now); e != nil && e.failures > 0 {
		e.failures--
		b.block(e, now)
	}
}

// forget drops key's failures.
func (b *backoff) forget(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if el, ok := b.byKey[key]; ok {
		b.lru.Remove(el)
		delete(b.byKey, key)
	}
}

// len returns the number of keys in the table.
func (b *backoff) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.byKey)
}

// loginThrottle is the demo's login backoff: one table per kind of key.
type loginThrottle struct {
	// mu makes begin's check and record one step, so that simultaneous
	// attempts cannot all pass the check before any is recorded.
	mu                  sync.Mutex
	accounts, addresses *backoff
	now                 func() time.Time
}

func newLoginThrottle(now func() time.Time) *loginThrottle {
	if now == nil {
		now = time.Now
	}
	return &loginThrottle{accounts: newBackoff(accountRule), addresses: newBackoff(addressRule), now: now}
}

// begin starts a login attempt for account (tracked only if known) from
// addr. If either key is blocked it returns how long to wait and records
// nothing; otherwise it records the attempt as a failure of both keys
// (see succeeded) and returns 0.
func (t *loginThrottle) begin(account string, known bool, addr string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	w := t.addresses.wait(addr, now)
	if known {
		w = max(w, t.accounts.wait(account, now))
	}
	if w > 0 {
		return w
	}
	t.addresses.fail(addr, now)
	if known {
		t.accounts.fail(account, now)
	}
	return 0
}

// succeeded ends an attempt begun with begin whose password was right:
// the account's failures are cleared, the address's attempt is taken back.
func (t *loginThrottle) succeeded(account, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.accounts.forget(account)
	t.addresses.undo(addr, t.now())
}

// clientKey is the address key of r: the IPv4 address, or the /64 of an
// IPv6 address; "unknown" if RemoteAddr does not parse.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return "unknown"
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// exists reports whether user is an account of the demo.
func (db *userDB) exists(user string) bool {
	_, ok := db.hashes[user]
	return ok
}

// loginThrottled starts the throttle's accounting of a login attempt. If
// the account or the client address is blocked, it answers 429 with
// Retry-After and the login page, and returns true.
func (a *app) loginThrottled(w http.ResponseWriter, r *http.Request, s *httpx.Session, user string) bool {
	wait := a.throttle.begin(user, a.users.exists(user), clientKey(r))
	if wait <= 0 {
		return false
	}
	secs := int((wait + time.Second - 1) / time.Second)
	a.log.WarnContext(r.Context(), "login throttled", "user", boundLog(user), "client", clientKey(r), "retry_after_s", secs)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	d := a.page(w, r, s, "Log in")
	d.DemoUsers = demoUsers
	d.LoginUser = user
	d.Error = fmt.Sprintf("Too many failed log-ins for this account or from your network. Try again in %d s.", secs)
	a.render(w, r, http.StatusTooManyRequests, "login", d)
	return true
}

// loginSucceeded tells the throttle that the password was right.
func (a *app) loginSucceeded(r *http.Request, user string) {
	a.throttle.succeeded(user, clientKey(r))
}

// boundLog shortens a client-supplied string for a log line, cutting at
// a character boundary.
func boundLog(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	i := limit
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
