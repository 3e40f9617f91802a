package redisstore

import (
	"errors"
	"testing"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/internal/redistest"
	"github.com/sealedsession/sealedsession/versioning"
)

// TestCheckerPolicyDuringOutage runs versioning.Checker on a Redis store
// whose server is killed: FailClosed rejects with ErrStoreUnavailable,
// ServeStale answers from the cache within the bound (still rejecting a
// bumped session) and rejects beyond it; after a restart both accept again.
func TestCheckerPolicyDuringOutage(t *testing.T) {
	srv := redistest.Start(t, redistest.WithArgs("--appendonly", "yes", "--appendfsync", "always"))
	clock := &fakeClock{}
	s := openStore(t, newClient(t, srv.Addr()), &Options{Prefix: uniquePrefix(t), MaxStale: 5 * time.Second, HealthCheckInterval: 100 * time.Millisecond, Now: clock.Now}, nil)
	ctx := t.Context()
	if _, err := s.BumpEpoch(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	settle(t, s, 1) // our own message dropped alice: what follows caches her
	pol := versioning.Policy{Now: clock.Now}
	closed, err := versioning.NewChecker(pol, versioning.CheckerOptions{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	stale, err := versioning.NewChecker(pol, versioning.CheckerOptions{Store: s, OnStoreError: versioning.ServeStale})
	if err != nil {
		t.Fatal(err)
	}
	header := func(epoch uint64) *codec.Header {
		now := clock.Now()
		return &codec.Header{Version: codec.Version, ID: codec.SessionID{byte(epoch + 1)}, IssuedAt: now, LastSeen: now, UserID: "alice", UserEpoch: epoch}
	}
	current, bumped := header(1), header(0)
	for name, c := range map[string]*versioning.Checker{"fail-closed": closed, "serve-stale": stale} {
		if v, err := c.Check(ctx, current); err != nil || v == versioning.Rejected {
			t.Fatalf("%s: current session before outage: %v, %v", name, v, err)
		}
	}

	srv.Kill()
	if !waitUntil(5*time.Second, func() bool { ok, _ := s.Trusted(); return !ok }) {
		t.Fatal("store still trusted after kill")
	}
	if v, err := closed.Check(ctx, current); v != versioning.Rejected || !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("fail-closed during outage: %v, %v; want Rejected, ErrStoreUnavailable", v, err)
	}
	if v, err := stale.Check(ctx, current); err != nil || v == versioning.Rejected {
		t.Errorf("serve-stale within MaxStale: %v, %v; want accepted", v, err)
	}
	if v, err := stale.Check(ctx, bumped); v != versioning.Rejected || !errors.Is(err, versioning.ErrEpochBumped) {
		t.Errorf("serve-stale, bumped session: %v, %v; want Rejected, ErrEpochBumped", v, err)
	}
	clock.Advance(6 * time.Second)
	current = header(1)
	if v, err := stale.Check(ctx, current); v != versioning.Rejected || !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("serve-stale beyond MaxStale: %v, %v; want Rejected, ErrStoreUnavailable", v, err)
	}

	srv.Restart()
	if !waitUntil(10*time.Second, func() bool { ok, _ := s.Trusted(); return ok }) {
		t.Fatal("store did not recover")
	}
	for name, c := range map[string]*versioning.Checker{"fail-closed": closed, "serve-stale": stale} {
		if v, err := c.Check(ctx, current); err != nil || v == versioning.Rejected {
			t.Errorf("%s: current session after recovery: %v, %v", name, v, err)
		}
		if v, err := c.Check(ctx, bumped); !errors.Is(err, versioning.ErrEpochBumped) {
			t.Errorf("%s: bumped session after recovery: %v, %v; want ErrEpochBumped", name, v, err)
		}
	}
}
