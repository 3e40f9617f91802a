package boltstore_test

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/internal/testkit"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/boltstore"
	"github.com/sealedsession/sealedsession/versioning/memstore"
)

// The local half of issue 15's scale figures, the same measures as
// bench/scale-baseline takes of the first version (c02bc3f), on today's
// stores: heap per live revocation under churn (memstore, boltstore) and
// the bbolt file after N revocations ended. CI runs it at N = 2000 with
// loose bounds; the figures in bench/SCALE.md come from
//
//	SEALEDSESSION_SCALE_N=1000000 go test -run TestScaleLocal -v -timeout 30m ./versioning/boltstore/

// scaleID returns the i-th of a fixed sequence of random-looking IDs.
func scaleID(i int) codec.SessionID {
	var id codec.SessionID
	r := rand.New(rand.NewPCG(uint64(i), 0x5eed))
	binary.LittleEndian.PutUint64(id[:8], r.Uint64())
	binary.LittleEndian.PutUint64(id[8:], r.Uint64())
	return id
}

// fastDir is a directory for files written with one synced transaction
// per Revoke: on /dev/shm when there is one (fsync there costs nothing),
// so that the figures measure the store, not the disk.
func fastDir(t *testing.T) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "boltstore-scale-"); err == nil {
			t.Cleanup(func() { _ = os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}

// churnHeap keeps live revocations live (one per user: every Revoke moves
// the clock one microsecond on and revokes a new ID until live
// microseconds later, so the oldest ends as each new one comes) and
// returns the mean heap above base per live revocation, sampled ten times
// over two lifetimes after a warm-up of two. sweep runs before each
// sample, as the stores' timers would.
func churnHeap(t *testing.T, s versioning.Store, clk *testkit.Clock, live int, base uint64, sweep func()) float64 {
	ctx := context.Background()
	step := max(live/10, 1)
	var sum float64
	var samples int
	for i := range 4 * live {
		clk.Advance(time.Microsecond)
		until := clk.Now().Add(time.Duration(live) * time.Microsecond)
		require.NoError(t, s.Revoke(ctx, "user-"+strconv.Itoa(i), scaleID(i), until))
		if i >= 2*live && (i-2*live)%step == 0 {
			sweep()
			sum += float64(int64(testkit.LiveHeap())-int64(base)) / float64(live)
			samples++
		}
	}
	return sum / float64(samples)
}

func TestScaleLocal(t *testing.T) {
	n := testkit.ScaleN(t, 2000)
	if testing.Short() && n > 2000 {
		t.Skip("-short")
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()

	t.Run("memstore churn", func(t *testing.T) {
		clk := testkit.NewClockAt(start)
		base := testkit.LiveHeap()
		s := memstore.New(&memstore.Options{Now: clk.Now, SweepInterval: -1})
		defer s.Close()
		per := churnHeap(t, s, clk, n, base, func() { s.Sweep() })
		t.Logf("RESULT memstore: %d live revocations (one per user), %.0f B of heap each under churn", n, per)
		assert.Less(t, per, 400.0, "memstore heap per live revocation")
	})

	t.Run("boltstore churn", func(t *testing.T) {
		nb := min(n, 100_000) // every Revoke is a synced transaction
		clk := testkit.NewClockAt(start)
		base := testkit.LiveHeap()
		s := open(t, filepath.Join(fastDir(t), "churn.db"), &boltstore.Options{Now: clk.Now, SweepInterval: -1})
		per := churnHeap(t, s, clk, nb, base, func() { _, _ = s.Sweep(ctx) })
		t.Logf("RESULT boltstore: %d live revocations, %.0f B of heap each under churn", nb, per)
		assert.Less(t, per, 400.0, "boltstore heap per live revocation")
	})

	t.Run("bbolt file after a mass expiry", func(t *testing.T) {
		clk := testkit.NewClockAt(start)
		path := filepath.Join(fastDir(t), "mass.db")
		s := open(t, path, &boltstore.Options{Now: clk.Now, SweepInterval: -1, CompactMinBytes: 64 << 10})
		size := func() int64 {
			fi, err := os.Stat(path)
			require.NoError(t, err)
			return fi.Size()
		}
		until := clk.Now().Add(31 * time.Minute)
		for i := range n {
			require.NoError(t, s.Revoke(ctx, "user-"+strconv.Itoa(i), scaleID(i), until))
		}
		full := size()
		clk.Advance(time.Hour)
		left, err := s.Sweep(ctx)
		require.NoError(t, err)
		after := size()
		require.NoError(t, s.Close())
		t.Logf("RESULT bbolt file: %d revocations %.1f MiB; after they ended and one sweep (%d left): %.2f MiB", n, float64(full)/(1<<20), left, float64(after)/(1<<20))
		assert.Zero(t, left, "revocations left after the sweep")
		assert.LessOrEqual(t, after, max(full/4, 64<<10), "the file did not shrink after a mass expiry")
	})
}
