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
// A failed attempt counts against its account and its client address.
// Once a key has freeFailures failures in a row, it is blocked for base,
// then twice as long after each further failure, up to a cap; a blocked
// attempt is answered 429 with Retry-After, before any password hashing,
// and does not count (so waiting out the block is enough). A key with no
// failure for its forget period starts again from zero.
//
// Attempts still being checked are limited too, so that a burst of
// simultaneous guesses cannot all start before the first one fails: a
// key with serialAfter failures on record (1 for an account, 5 for an
// address) allows one attempt at a time, so each failure is counted
// before the next guess starts; otherwise maxInFlight at a time (8 per
// account, 32 per address), which leaves room for legitimate
// simultaneous log-ins (counting every attempt as a failure until it is
// checked would refuse them). An attempt over the limit gets 429 with
// Retry-After: 1. A burst thus gets at most maxInFlight guesses checked
// before the key is blocked.
//
// Keys:
//   - the account, for accounts that exist only: a made-up name has no
//     account to protect, and tracking it would let strangers fill the
//     table. A right password clears the account's failures. Anyone can
//     slow down logins to a known account this way (the price of
//     per-account throttling); the cap keeps that to a minute at a time.
//   - the client address (IPv4, or the /64 of an IPv6 address, which one
//     host usually owns whole), as the connection gives it (the demo sits
//     behind no proxy). A right password does not clear the address, so
//     logging in to one's own account does not reset it.
//
// Memory is bounded: each table is an LRU map of at most a fixed number of
// keys. When a table is full, the least recently used key is forgotten;
// an attacker who churns the address table needs that many addresses,
// each of which gets only freeFailures guesses (plus one burst).

// throttleRule is the backoff of one kind of key.
type throttleRule struct {
	freeFailures int           // failures in a row before the first block
	base         time.Duration // the first block
	cap          time.Duration // the longest block
	forget       time.Duration // failures older than this are forgotten
	maxInFlight  int           // attempts checked at once, ...
	serialAfter  int           // ... and just one from this many failures on
	maxKeys      int           // the table's bound
}

// Rules of the demo. Variables so that tests can shrink the tables.
var (
	accountRule = throttleRule{freeFailures: 5, base: time.Second, cap: time.Minute, forget: 15 * time.Minute, maxInFlight: 8, serialAfter: 1, maxKeys: 1024}
	addressRule = throttleRule{freeFailures: 10, base: time.Second, cap: 15 * time.Minute, forget: time.Hour, maxInFlight: 32, serialAfter: 5, maxKeys: 8192}
)

// busyWait is the Retry-After of an attempt refused because others for
// the same key are still being checked.
const busyWait = time.Second

// backoff is a bounded LRU table of failure counts and attempts in flight
// for one kind of key. Its methods must be called with the owning
// loginThrottle's lock held.
type backoff struct {
	rule  throttleRule
	byKey map[string]*list.Element // of *backoffEntry
	lru   list.List                // front: most recently used
}

type backoffEntry struct {
	key          string
	failures     int
	lastFailure  time.Time
	blockedUntil time.Time
	inFlight     int
}

func newBackoff(rule throttleRule) *backoff {
	return &backoff{rule: rule, byKey: make(map[string]*list.Element)}
}

// entry returns key's entry, creating it (and evicting the least recently
// used key if the table is full) when create is set; else it may return
// nil. Failures past the forget period are dropped. It marks the entry as
// used.
func (b *backoff) entry(key string, now time.Time, create bool) *backoffEntry {
	if el, ok := b.byKey[key]; ok {
		e := el.Value.(*backoffEntry)
		if e.failures > 0 && now.Sub(e.lastFailure) > b.rule.forget {
			e.failures, e.blockedUntil = 0, time.Time{}
		}
		b.lru.MoveToFront(el)
		return e
	}
	if !create {
		return nil
	}
	for len(b.byKey) >= b.rule.maxKeys {
		old := b.lru.Back()
		b.lru.Remove(old)
		delete(b.byKey, old.Value.(*backoffEntry).key)
	}
	e := &backoffEntry{key: key}
	b.byKey[key] = b.lru.PushFront(e)
	return e
}

// drop removes e if it holds nothing worth keeping.
func (b *backoff) drop(e *backoffEntry) {
	if e.failures == 0 && e.inFlight == 0 {
		if el, ok := b.byKey[e.key]; ok && el.Value == e {
			b.lru.Remove(el)
			delete(b.byKey, e.key)
		}
	}
}

// wait returns how long an attempt for key must wait (0: it may start).
func (b *backoff) wait(key string, now time.Time) time.Duration {
	e := b.entry(key, now, false)
	switch {
	case e == nil:
		return 0
	case now.Before(e.blockedUntil):
		return e.blockedUntil.Sub(now)
	case e.failures >= b.rule.serialAfter && e.inFlight >= 1, e.inFlight >= b.rule.maxInFlight:
		return busyWait
	}
	return 0
}

// start records an attempt for key in flight.
func (b *backoff) start(key string, now time.Time) {
	b.entry(key, now, true).inFlight++
}

// finish ends an attempt for key: a failure counts (and may block the
// key), a success clears the failures if clear is set.
func (b *backoff) finish(key string, now time.Time, failed, clear bool) {
	e := b.entry(key, now, failed)
	if e == nil {
		return // evicted meanwhile
	}
	if e.inFlight > 0 {
		e.inFlight--
	}
	switch {
	case failed:
		e.failures++
		e.lastFailure = now
		if over := e.failures - b.rule.freeFailures; over >= 0 {
			d := b.rule.cap
			if over < 30 && b.rule.base<<over < b.rule.cap {
				d = b.rule.base << over
			}
			e.blockedUntil = now.Add(d)
		}
	case clear:
		e.failures, e.blockedUntil = 0, time.Time{}
	}
	b.drop(e)
}

// len returns the number of keys in the table.
func (b *backoff) len() int { return len(b.byKey) }

// loginThrottle is the demo's login backoff: one table per kind of key.
// It is safe for concurrent use.
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
// addr. If either key must wait it returns how long and records nothing;
// otherwise it records the attempt in flight and returns 0, and the
// caller must call end once the password is checked.
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
	t.addresses.start(addr, now)
	if known {
		t.accounts.start(account, now)
	}
	return 0
}

// The outcome of a checked login attempt.
const (
	outcomeUnknown = iota // not checked to the end (the store is down, a panic)
	outcomeWrong          // wrong user name or password
	outcomeRight          // logged in
)

// end finishes an attempt begun with begin. A wrong password counts
// against both keys; a right one clears the account's failures (not the
// address's); an unknown outcome only ends the attempt.
func (t *loginThrottle) end(account string, known bool, addr string, outcome int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.addresses.finish(addr, now, outcome == outcomeWrong, false)
	if known {
		t.accounts.finish(account, now, outcome == outcomeWrong, outcome == outcomeRight)
	}
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

// throttled wraps the login handler in the throttle t. It answers a
// blocked attempt itself (429 with Retry-After and the login page, no
// password check) and learns each checked attempt's outcome from the
// handler's status: 401 (wrong user or password) is a failure, a redirect
// (logged in) a success, anything else (the store is down) neither.
func (a *app) throttled(t *loginThrottle, login http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user := r.PostFormValue("user")
		known, addr := a.users.exists(user), clientKey(r)
		if wait := t.begin(user, known, addr); wait > 0 {
			secs := int((wait + time.Second - 1) / time.Second)
			a.log.WarnContext(r.Context(), "login throttled", "user", boundLog(user), "client", addr, "retry_after_s", secs)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			d := a.page(w, r, httpx.FromContext(r.Context()), "Log in")
			d.DemoUsers = demoUsers
			d.LoginUser = user
			d.Error = fmt.Sprintf("Too many failed log-ins for this account or from your network. Try again in %d s.", secs)
			a.render(w, r, http.StatusTooManyRequests, "login", d)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			outcome := outcomeUnknown
			switch {
			case sw.status == http.StatusUnauthorized:
				outcome = outcomeWrong
			case sw.status >= 300 && sw.status < 400:
				outcome = outcomeRight
			}
			t.end(user, known, addr, outcome)
		}()
		login(sw, r)
	}
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

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
