package redisstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	_, err := s.BumpEpoch(ctx, "alice")
	require.NoError(t, err)
	settle(t, s, 1) // our own message dropped alice: what follows caches her
	pol := versioning.Policy{Now: clock.Now}
	closed, err := versioning.NewChecker(pol, versioning.CheckerOptions{Store: s})
	require.NoError(t, err)
	stale, err := versioning.NewChecker(pol, versioning.CheckerOptions{Store: s, OnStoreError: versioning.ServeStale})
	require.NoError(t, err)
	header := func(epoch uint64) *codec.Header {
		now := clock.Now()
		return &codec.Header{Version: codec.Version, ID: codec.SessionID{byte(epoch + 1)}, IssuedAt: now, LastSeen: now, UserID: "alice", UserEpoch: epoch}
	}
	current, bumped := header(1), header(0)
	for name, c := range map[string]*versioning.Checker{"fail-closed": closed, "serve-stale": stale} {
		v, err := c.Check(ctx, current)
		require.NoError(t, err, "%s: current session before outage", name)
		require.NotEqual(t, versioning.Rejected, v, "%s: current session before outage", name)
	}

	srv.Kill()
	require.True(t, waitUntil(5*time.Second, func() bool { ok, _ := s.Trusted(); return !ok }), "store still trusted after kill")
	v, err := closed.Check(ctx, current)
	assert.Equal(t, versioning.Rejected, v, "fail-closed during outage")
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "fail-closed during outage")
	v, err = stale.Check(ctx, current)
	assert.NoError(t, err, "serve-stale within MaxStale")
	assert.NotEqual(t, versioning.Rejected, v, "serve-stale within MaxStale: want accepted")
	v, err = stale.Check(ctx, bumped)
	assert.Equal(t, versioning.Rejected, v, "serve-stale, bumped session")
	assert.ErrorIs(t, err, versioning.ErrEpochBumped, "serve-stale, bumped session")
	clock.Advance(6 * time.Second)
	current = header(1)
	v, err = stale.Check(ctx, current)
	assert.Equal(t, versioning.Rejected, v, "serve-stale beyond MaxStale")
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "serve-stale beyond MaxStale")

	srv.Restart()
	require.True(t, waitUntil(10*time.Second, func() bool { ok, _ := s.Trusted(); return ok }), "store did not recover")
	for name, c := range map[string]*versioning.Checker{"fail-closed": closed, "serve-stale": stale} {
		v, err := c.Check(ctx, current)
		assert.NoError(t, err, "%s: current session after recovery", name)
		assert.NotEqual(t, versioning.Rejected, v, "%s: current session after recovery", name)
		v, err = c.Check(ctx, bumped)
		assert.ErrorIs(t, err, versioning.ErrEpochBumped, "%s: bumped session after recovery (verdict %v)", name, v)
	}
}
