// Package testkit is the shared kit of the project's tests: a settable
// clock and a fresh key ring. (Event recording for httpx lives in
// testkit/eventrec, so that packages below httpx can use this one.)
package testkit

import (
	"sync"
	"testing"
	"time"

	"github.com/sealedsession/sealedsession/sealed"
)

// Clock is a settable clock for deterministic expiry tests, safe for
// concurrent use. Its Now has the millisecond precision of sealed times.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at the current time (UTC, whole milliseconds):
// near real time, so that stores that also consult the wall clock agree.
func NewClock() *Clock { return &Clock{t: time.Now().UTC().Truncate(time.Millisecond)} }

// NewClockAt returns a clock at t.
func NewClockAt(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d (backwards when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// NewRing returns a key ring of one fresh key.
func NewRing(tb testing.TB) *sealed.Keyring {
	tb.Helper()
	k, err := sealed.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	ring, err := sealed.NewKeyring(k)
	if err != nil {
		tb.Fatal(err)
	}
	return ring
}
