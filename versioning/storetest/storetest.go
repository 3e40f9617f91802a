// Package storetest is a conformance suite for [versioning.Store]
// implementations, in the style of testing/fstest: every store in this
// module runs it, and third-party stores should too.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) versioning.Store {
//			s := mystore.New(...)
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// newStore must return a new, empty store each time it is called (the
// suite calls it once per subtest and may run subtests in parallel). The
// suite waits at most about a second in total for revocations to expire by
// themselves, so the store must expire entries with sub-second precision.
// The suite closes each store it is given; Close must be idempotent.
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

// Run runs the conformance suite against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) versioning.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s versioning.Store)
	}{
		{"EpochMissingIsZero", testEpochMissing},
		{"BumpEpochMonotonic", testBumpMonotonic},
		{"PerUserIsolation", testIsolation},
		{"GlobalEpoch", testGlobal},
		{"RevokeAndIsRevoked", testRevoke},
		{"RevokePastUntil", testRevokePast},
		{"RevokeKeepsLaterUntil", testRevokeLater},
		{"RevocationExpires", testRevocationExpires},
		{"Concurrency", testConcurrency},
		{"CancelledContext", testCancelled},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			if s == nil {
				t.Fatal("newStore returned nil")
			}
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
	for _, tc := range trackerTests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			if s == nil {
				t.Fatal("newStore returned nil")
			}
			t.Cleanup(func() { _ = s.Close() })
			tr, ok := s.(versioning.SessionTracker)
			if !ok {
				t.Skipf("%T does not implement versioning.SessionTracker", s)
			}
			tc.fn(t, s, tr)
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

func epoch(t *testing.T, s versioning.Store, user string) uint64 {
	t.Helper()
	e, err := s.Epoch(t.Context(), user)
	if err != nil {
		t.Fatalf("Epoch(%q): %v", user, err)
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

func revoked(t *testing.T, s versioning.Store, id codec.SessionID) bool {
	t.Helper()
	r, err := s.IsRevoked(t.Context(), id)
	if err != nil {
		t.Fatalf("IsRevoked: %v", err)
	}
	return r
}

func revoke(t *testing.T, s versioning.Store, id codec.SessionID, until time.Time) {
	t.Helper()
	if err := s.Revoke(t.Context(), id, until); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
}

func testEpochMissing(t *testing.T, s versioning.Store) {
	for _, u := range []string{"alice", "never-seen", "user:with:colons", "ünïcode", string(make([]byte, 255))} {
		if e := epoch(t, s, u); e != 0 {
			t.Errorf("Epoch(%q) of an unknown user = %d, want 0", u, e)
		}
	}
}

func testBumpMonotonic(t *testing.T, s versioning.Store) {
	for want := uint64(1); want <= 5; want++ {
		if got := bump(t, s, "alice"); got != want {
			t.Fatalf("BumpEpoch #%d returned %d, want %d", want, got, want)
		}
		if got := epoch(t, s, "alice"); got != want {
			t.Fatalf("Epoch after %d bumps = %d", want, got)
		}
	}
}

func testIsolation(t *testing.T, s versioning.Store) {
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

func testGlobal(t *testing.T, s versioning.Store) {
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

func testRevoke(t *testing.T, s versioning.Store) {
	a, b := newID(t), newID(t)
	if revoked(t, s, a) {
		t.Fatal("an ID never revoked is reported revoked")
	}
	revoke(t, s, a, time.Now().Add(time.Hour))
	if !revoked(t, s, a) {
		t.Fatal("a revoked ID is not reported revoked")
	}
	if revoked(t, s, b) {
		t.Fatal("revoking one ID revoked another")
	}
	var zero codec.SessionID
	if revoked(t, s, zero) {
		t.Fatal("the zero ID is reported revoked")
	}
	// Revocations are independent of epochs.
	if e := epoch(t, s, "alice"); e != 0 {
		t.Fatalf("Epoch after a revocation = %d, want 0", e)
	}
}

func testRevokePast(t *testing.T, s versioning.Store) {
	id := newID(t)
	revoke(t, s, id, time.Now().Add(-time.Minute))
	if revoked(t, s, id) {
		t.Fatal("an ID revoked until a time in the past is reported revoked")
	}
}

func testRevokeLater(t *testing.T, s versioning.Store) {
	id := newID(t)
	revoke(t, s, id, time.Now().Add(time.Hour))
	// A shorter revocation must not shorten the existing one.
	revoke(t, s, id, time.Now().Add(150*time.Millisecond))
	time.Sleep(300 * time.Millisecond)
	if !revoked(t, s, id) {
		t.Fatal("a second, shorter Revoke cut an existing revocation short")
	}
}

func testRevocationExpires(t *testing.T, s versioning.Store) {
	short, long := newID(t), newID(t)
	revoke(t, s, short, time.Now().Add(200*time.Millisecond))
	revoke(t, s, long, time.Now().Add(time.Hour))
	if !revoked(t, s, short) {
		t.Fatal("a revoked ID is not reported revoked before its until")
	}
	deadline := time.Now().Add(800 * time.Millisecond)
	for revoked(t, s, short) {
		if time.Now().After(deadline) {
			t.Fatal("a revocation is still reported 600ms after its until")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !revoked(t, s, long) {
		t.Fatal("expiry of one revocation removed another")
	}
}

func testConcurrency(t *testing.T, s versioning.Store) {
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
				if err := s.Revoke(ctx, ids[w*per+i], time.Now().Add(time.Hour)); err != nil {
					errs <- err
				}
				if _, err := s.Epoch(ctx, "shared"); err != nil {
					errs <- err
				}
				if _, err := s.IsRevoked(ctx, ids[(w*per+i+1)%len(ids)]); err != nil {
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
		if !revoked(t, s, id) {
			t.Errorf("ID %d revoked concurrently is not revoked", i)
		}
	}
}

func testCancelled(t *testing.T, s versioning.Store) {
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
	if err := s.Revoke(ctx, id, time.Now().Add(time.Hour)); err == nil {
		t.Error("Revoke with a cancelled context returned no error")
	}
	if _, err := s.IsRevoked(ctx, id); err == nil {
		t.Error("IsRevoked with a cancelled context returned no error")
	}
	// The store still works with a live context; the cancelled bump took
	// effect at most once.
	if e := epoch(t, s, "alice"); e > 1 {
		t.Errorf("Epoch after one cancelled bump = %d", e)
	}
}

func testClose(t *testing.T, s versioning.Store) {
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
	if _, err := s.IsRevoked(context.Background(), newID(t)); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("IsRevoked after Close: %v, want an error matching ErrStoreUnavailable", err)
	}
	if _, err := s.BumpEpoch(context.Background(), "alice"); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("BumpEpoch after Close: %v, want an error matching ErrStoreUnavailable", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
