// Package storetest is a conformance suite for [versioning.Store]
// implementations, in the style of testing/fstest: every store in this
// module runs it, and third-party stores should too.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) versioning.Store {
//			s := mystore.New(&mystore.Options{Now: now})
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// newStore must return a new, empty store each time it is called (the
// suite calls it once per subtest and may run subtests in parallel), whose
// clock is now: the suite moves that clock to test expiry instead of
// sleeping. The clock starts at the wall-clock time and only moves forward.
// One subtest (RevocationExpiresRealTime) is given time.Now and waits up to
// about a second of real time for a revocation to end, for stores whose
// server expires entries on its own clock; the store must expire entries
// with sub-second precision. The suite closes each store it is given;
// Close must be idempotent.
//
// A store that also implements [versioning.SessionTracker] is tested for
// that too (listing, limits, eviction, expiry, atomic limit under
// concurrency); for other stores those subtests are skipped.
package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
)

// Clock is the settable clock the suite gives a store. It is safe for
// concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
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

// Run runs the conformance suite against stores made by newStore, each
// with a clock of the suite's (see the package documentation).
func Run(t *testing.T, newStore func(t *testing.T, now func() time.Time) versioning.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s versioning.Store, c *Clock)
	}{
		{"EpochMissingIsZero", testEpochMissing},
		{"BumpEpochMonotonic", testBumpMonotonic},
		{"PerUserIsolation", testIsolation},
		{"GlobalEpoch", testGlobal},
		{"RevokeAndLookup", testRevoke},
		{"RevocationsArePerUser", testRevokePerUser},
		{"AnonymousNeverRevoked", testAnonymous},
		{"RevokePastUntil", testRevokePast},
		{"RevokeKeepsLaterUntil", testRevokeLater},
		{"RevocationExpires", testRevocationExpires},
		{"Concurrency", testConcurrency},
		{"CancelledContext", testCancelled},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClock(time.Now())
			s := newStore(t, c.Now)
			if s == nil {
				t.Fatal("newStore returned nil")
			}
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s, c)
		})
	}
	t.Run("RevocationExpiresRealTime", func(t *testing.T) {
		s := newStore(t, time.Now)
		if s == nil {
			t.Fatal("newStore returned nil")
		}
		t.Cleanup(func() { _ = s.Close() })
		testRevocationExpiresRealTime(t, s)
	})
	for _, tc := range trackerTests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClock(time.Now())
			s := newStore(t, c.Now)
			if s == nil {
				t.Fatal("newStore returned nil")
			}
			t.Cleanup(func() { _ = s.Close() })
			tr, ok := s.(versioning.SessionTracker)
			if !ok {
				t.Skipf("%T does not implement versioning.SessionTracker", s)
			}
			tc.fn(t, s, tr, c)
		})
	}
}

func newID(t *testing.T) codec.SessionID {
	t.Helper()
	id, err := codec.NewSessionID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// epoch returns Epoch(user), after checking that Lookup agrees.
func epoch(t *testing.T, s versioning.Store, user string) uint64 {
	t.Helper()
	e, err := s.Epoch(t.Context(), user)
	if err != nil {
		t.Fatalf("Epoch(%q): %v", user, err)
	}
	if user != "" {
		if st := lookup(t, s, user, codec.SessionID{}); st.Epoch != e || st.Revoked {
			t.Fatalf("Lookup(%q) = %+v, but Epoch = %d", user, st, e)
		}
	}
	return e
}

func bump(t *testing.T, s versioning.Store, user string) uint64 {
	t.Helper()
	e, err := s.BumpEpoch(t.Context(), user)
	if err != nil {
		t.Fatalf("BumpEpoch(%q): %v", user, err)
	}
	return e
}

func lookup(t *testing.T, s versioning.Store, user string, id codec.SessionID) versioning.SessionState {
	t.Helper()
	st, err := s.Lookup(t.Context(), user, id)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", user, err)
	}
	return st
}

func revoked(t *testing.T, s versioning.Store, user string, id codec.SessionID) bool {
	t.Helper()
	return lookup(t, s, user, id).Revoked
}

func revoke(t *testing.T, s versioning.Store, user string, id codec.SessionID, until time.Time) {
	t.Helper()
	if err := s.Revoke(t.Context(), user, id, until); err != nil {
		t.Fatalf("Revoke(%q): %v", user, err)
	}
}

func testEpochMissing(t *testing.T, s versioning.Store, c *Clock) {
	for _, u := range []string{"alice", "never-seen", "user:with:colons", "ünïcode", string(make([]byte, 255))} {
		if e := epoch(t, s, u); e != 0 {
			t.Errorf("Epoch(%q) of an unknown user = %d, want 0", u, e)
		}
	}
}

func testBumpMonotonic(t *testing.T, s versioning.Store, c *Clock) {
	for want := uint64(1); want <= 5; want++ {
		if got := bump(t, s, "alice"); got != want {
			t.Fatalf("BumpEpoch #%d returned %d, want %d", want, got, want)
		}
		if got := epoch(t, s, "alice"); got != want {
			t.Fatalf("Epoch after %d bumps = %d", want, got)
		}
	}
}

func testIsolation(t *testing.T, s versioning.Store, c *Clock) {
	bump(t, s, "alice")
	bump(t, s, "alice")
	bump(t, s, "bob")
	// Prefix-related names must not share a counter.
	bump(t, s, "al")
	for user, want := range map[string]uint64{"alice": 2, "bob": 1, "al": 1, "alic": 0, "alice2": 0, "carol": 0} {
		if got := epoch(t, s, user); got != want {
			t.Errorf("Epoch(%q) = %d, want %d", user, got, want)
		}
	}
}

func testGlobal(t *testing.T, s versioning.Store, c *Clock) {
	bump(t, s, "alice")
	bump(t, s, "alice")
	if err := s.BumpGlobalEpoch(t.Context()); err != nil {
		t.Fatalf("BumpGlobalEpoch: %v", err)
	}
	if got := epoch(t, s, "alice"); got != 3 {
		t.Errorf("Epoch(alice) after 2 bumps and a global bump = %d, want 3", got)
	}
	if got := epoch(t, s, "unknown"); got != 1 {
		t.Errorf("Epoch(unknown) after a global bump = %d, want 1", got)
	}
	if got := bump(t, s, "bob"); got != 2 {
		t.Errorf("BumpEpoch(bob) after a global bump returned %d, want 2 (user 1 + global 1)", got)
	}
	if err := s.BumpGlobalEpoch(t.Context()); err != nil {
		t.Fatalf("BumpGlobalEpoch: %v", err)
	}
	for user, want := range map[string]uint64{"alice": 4, "bob": 3, "unknown": 2} {
		if got := epoch(t, s, user); got != want {
			t.Errorf("Epoch(%q) after two global bumps = %d, want %d", user, got, want)
		}
	}
}

func testRevoke(t *testing.T, s versioning.Store, c *Clock) {
	a, b := newID(t), newID(t)
	if revoked(t, s, "alice", a) {
		t.Fatal("an ID never revoked is reported revoked")
	}
	revoke(t, s, "alice", a, c.Now().Add(time.Hour))
	if !revoked(t, s, "alice", a) {
		t.Fatal("a revoked ID is not reported revoked")
	}
	if revoked(t, s, "alice", b) {
		t.Fatal("revoking one ID revoked another")
	}
	var zero codec.SessionID
	if revoked(t, s, "alice", zero) {
		t.Fatal("the zero ID is reported revoked")
	}
	// Revocations are independent of epochs, and Lookup carries both.
	if e := epoch(t, s, "alice"); e != 0 {
		t.Fatalf("Epoch after a revocation = %d, want 0", e)
	}
	bump(t, s, "alice")
	if st := lookup(t, s, "alice", a); st.Epoch != 1 || !st.Revoked {
		t.Fatalf("Lookup after a bump = %+v, want epoch 1, revoked", st)
	}
	if !revoked(t, s, "alice", a) {
		t.Fatal("a bump cleared a revocation")
	}
}

func testRevokePerUser(t *testing.T, s versioning.Store, c *Clock) {
	id := newID(t)
	revoke(t, s, "alice", id, c.Now().Add(time.Hour))
	for _, u := range []string{"bob", "alic", "alice2", "ALICE"} {
		if revoked(t, s, u, id) {
			t.Errorf("alice's revocation applies to user %q", u)
		}
	}
	revoke(t, s, "bob", id, c.Now().Add(time.Hour))
	if !revoked(t, s, "alice", id) || !revoked(t, s, "bob", id) {
		t.Error("the same ID revoked for two users is not revoked for both")
	}
}

func testAnonymous(t *testing.T, s versioning.Store, c *Clock) {
	id := newID(t)
	// Revoke of an anonymous session records nothing and is no error.
	revoke(t, s, "", id, c.Now().Add(time.Hour))
	if st := lookup(t, s, "", id); st != (versioning.SessionState{}) {
		t.Errorf("Lookup of an anonymous session = %+v, want the zero state", st)
	}
	if revoked(t, s, "alice", id) {
		t.Error("an anonymous revocation applies to a user")
	}
	if err := s.BumpGlobalEpoch(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := lookup(t, s, "", id); st != (versioning.SessionState{}) {
		t.Errorf("Lookup of an anonymous session after a global bump = %+v, want the zero state", st)
	}
}

func testRevokePast(t *testing.T, s versioning.Store, c *Clock) {
	id := newID(t)
	revoke(t, s, "alice", id, c.Now().Add(-time.Minute))
	if revoked(t, s, "alice", id) {
		t.Fatal("an ID revoked until a time in the past is reported revoked")
	}
	revoke(t, s, "alice", id, c.Now())
	if revoked(t, s, "alice", id) {
		t.Fatal("an ID revoked until now is reported revoked")
	}
}

func testRevokeLater(t *testing.T, s versioning.Store, c *Clock) {
	id := newID(t)
	revoke(t, s, "alice", id, c.Now().Add(time.Hour))
	// A shorter revocation must not shorten the existing one.
	revoke(t, s, "alice", id, c.Now().Add(150*time.Millisecond))
	c.Advance(300 * time.Millisecond)
	if !revoked(t, s, "alice", id) {
		t.Fatal("a second, shorter Revoke cut an existing revocation short")
	}
	// A longer one extends it.
	revoke(t, s, "alice", id, c.Now().Add(2*time.Hour))
	c.Advance(90 * time.Minute)
	if !revoked(t, s, "alice", id) {
		t.Fatal("a second, longer Revoke did not extend the revocation")
	}
}

func testRevocationExpires(t *testing.T, s versioning.Store, c *Clock) {
	short, long := newID(t), newID(t)
	until := c.Now().Add(200 * time.Millisecond).Truncate(time.Millisecond)
	revoke(t, s, "alice", short, until)
	revoke(t, s, "alice", long, c.Now().Add(time.Hour))
	revoke(t, s, "bob", short, c.Now().Add(time.Hour))
	c.Set(until.Add(-time.Millisecond))
	if !revoked(t, s, "alice", short) {
		t.Fatal("a revoked ID is not reported revoked a millisecond before its until")
	}
	c.Set(until)
	if revoked(t, s, "alice", short) {
		t.Fatal("a revocation is still reported at its until")
	}
	if !revoked(t, s, "alice", long) {
		t.Fatal("expiry of one revocation removed another of the same user")
	}
	if !revoked(t, s, "bob", short) {
		t.Fatal("expiry of one user's revocation removed another user's")
	}
	// A revocation after an expired one of the same ID works again.
	revoke(t, s, "alice", short, c.Now().Add(time.Minute))
	if !revoked(t, s, "alice", short) {
		t.Fatal("an ID revoked again after its revocation ended is not revoked")
	}
}

func testRevocationExpiresRealTime(t *testing.T, s versioning.Store) {
	short, long := newID(t), newID(t)
	revoke(t, s, "alice", short, time.Now().Add(200*time.Millisecond))
	revoke(t, s, "alice", long, time.Now().Add(time.Hour))
	if !revoked(t, s, "alice", short) {
		t.Fatal("a revoked ID is not reported revoked before its until")
	}
	deadline := time.Now().Add(800 * time.Millisecond)
	for revoked(t, s, "alice", short) {
		if time.Now().After(deadline) {
			t.Fatal("a revocation is still reported 600ms after its until")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !revoked(t, s, "alice", long) {
		t.Fatal("expiry of one revocation removed another")
	}
}

func testConcurrency(t *testing.T, s versioning.Store, c *Clock) {
	const workers, per = 4, 10
	ctx := t.Context()
	ids := make([]codec.SessionID, workers*per)
	for i := range ids {
		ids[i] = newID(t)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*workers*per)
	seen := make(chan uint64, workers*per)
	for w := range workers {
		wg.Go(func() {
			var last uint64
			for i := range per {
				e, err := s.BumpEpoch(ctx, "shared")
				if err != nil {
					errs <- err
					return
				}
				if e <= last {
					errs <- errors.New("BumpEpoch went backwards within one goroutine")
				}
				last = e
				seen <- e
				if err := s.Revoke(ctx, "shared", ids[w*per+i], c.Now().Add(time.Hour)); err != nil {
					errs <- err
				}
				if _, err := s.Epoch(ctx, "shared"); err != nil {
					errs <- err
				}
				if _, err := s.Lookup(ctx, "shared", ids[(w*per+i+1)%len(ids)]); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	close(seen)
	for err := range errs {
		t.Error(err)
	}
	got := map[uint64]bool{}
	for e := range seen {
		if got[e] {
			t.Errorf("BumpEpoch returned %d twice: bumps are not atomic", e)
		}
		got[e] = true
	}
	if e := epoch(t, s, "shared"); e != workers*per {
		t.Errorf("Epoch after %d concurrent bumps = %d", workers*per, e)
	}
	for i, id := range ids {
		if !revoked(t, s, "shared", id) {
			t.Errorf("ID %d revoked concurrently is not revoked", i)
		}
	}
}

func testCancelled(t *testing.T, s versioning.Store, c *Clock) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	id := newID(t)
	if _, err := s.Epoch(ctx, "alice"); err == nil {
		t.Error("Epoch with a cancelled context returned no error")
	}
	if _, err := s.BumpEpoch(ctx, "alice"); err == nil {
		t.Error("BumpEpoch with a cancelled context returned no error")
	}
	if err := s.BumpGlobalEpoch(ctx); err == nil {
		t.Error("BumpGlobalEpoch with a cancelled context returned no error")
	}
	if err := s.Revoke(ctx, "alice", id, c.Now().Add(time.Hour)); err == nil {
		t.Error("Revoke with a cancelled context returned no error")
	}
	if _, err := s.Lookup(ctx, "alice", id); err == nil {
		t.Error("Lookup with a cancelled context returned no error")
	}
	// The store still works with a live context; the cancelled bump took
	// effect at most once.
	if e := epoch(t, s, "alice"); e > 1 {
		t.Errorf("Epoch after one cancelled bump = %d", e)
	}
}

func testClose(t *testing.T, s versioning.Store, c *Clock) {
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err := s.Epoch(context.Background(), "alice")
	if err == nil {
		t.Fatal("Epoch after Close returned no error")
	}
	if !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("Epoch after Close: %v, want an error matching ErrStoreUnavailable", err)
	}
	if _, err := s.Lookup(context.Background(), "alice", newID(t)); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("Lookup after Close: %v, want an error matching ErrStoreUnavailable", err)
	}
	if err := s.Revoke(context.Background(), "alice", newID(t), time.Now().Add(time.Hour)); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("Revoke after Close: %v, want an error matching ErrStoreUnavailable", err)
	}
	if _, err := s.BumpEpoch(context.Background(), "alice"); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("BumpEpoch after Close: %v, want an error matching ErrStoreUnavailable", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
