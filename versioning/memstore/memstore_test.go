package memstore_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/internal/testkit"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/memstore"
	"github.com/sealedsession/sealedsession/versioning/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) versioning.Store {
		return memstore.New(&memstore.Options{Now: now})
	})
}

func TestInjectedClockExpiry(t *testing.T) {
	c := testkit.NewClockAt(time.Unix(1_700_000_000, 0))
	s := memstore.New(&memstore.Options{Now: c.Now})
	defer s.Close()
	id, _ := codec.NewSessionID()
	require.NoError(t, s.Revoke(t.Context(), "alice", id, c.Now().Add(time.Hour)))
	c.Advance(time.Hour - time.Nanosecond)
	st, _ := s.Lookup(t.Context(), "alice", id)
	require.True(t, st.Revoked, "not revoked just before until")
	c.Advance(time.Nanosecond)
	st, _ = s.Lookup(t.Context(), "alice", id)
	require.False(t, st.Revoked, "still revoked at until")
	// The read pruned the ended revocation: the user holds nothing now.
	users, revs := s.Len()
	assert.Equal(t, 0, users, "after a read met the ended revocation: users held")
	assert.Equal(t, 0, revs, "after a read met the ended revocation: revocations held")
}

func TestAnonymousWritesNothing(t *testing.T) {
	s := memstore.New(nil)
	defer s.Close()
	for range 10_000 {
		id, _ := codec.NewSessionID()
		require.NoError(t, s.Revoke(t.Context(), "", id, time.Now().Add(time.Hour)))
	}
	users, revs := s.Len()
	assert.Equal(t, 0, users, "anonymous revocations grew the store: users")
	assert.Equal(t, 0, revs, "anonymous revocations grew the store: revocations")
}

func TestSweepDropsExpired(t *testing.T) {
	c := testkit.NewClockAt(time.Unix(1_700_000_000, 0))
	s := memstore.New(&memstore.Options{Now: c.Now, SweepInterval: -1})
	defer s.Close()
	for i := range 10_000 {
		id, _ := codec.NewSessionID()
		require.NoError(t, s.Revoke(t.Context(), fmt.Sprint("user", i), id, c.Now().Add(time.Second)))
	}
	_, _ = s.BumpEpoch(t.Context(), "kept")
	users, revs := s.Len()
	require.Equal(t, 10_001, users, "before expiry: users")
	require.Equal(t, 10_000, revs, "before expiry: revocations")
	c.Advance(time.Second)
	require.Equal(t, 0, s.Sweep(), "revocations Sweep left")
	users, _ = s.Len()
	require.Equal(t, 1, users, "users Sweep left (the one with an epoch)")
	e, _ := s.Epoch(t.Context(), "kept")
	assert.Equal(t, uint64(1), e, "Sweep lost an epoch")
}

// TestTimerSweep: with no reads and no writes, ended revocations still go.
func TestTimerSweep(t *testing.T) {
	var mu = make(chan time.Time, 1)
	mu <- time.Unix(1_700_000_000, 0)
	now := func() time.Time { t := <-mu; mu <- t; return t }
	s := memstore.New(&memstore.Options{Now: now, SweepInterval: time.Millisecond})
	defer s.Close()
	id, _ := codec.NewSessionID()
	require.NoError(t, s.Revoke(t.Context(), "alice", id, now().Add(time.Second)))
	<-mu
	mu <- time.Unix(1_700_000_002, 0)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, revs := s.Len(); revs == 0 {
			return
		}
		require.False(t, time.Now().After(deadline), "the timer did not sweep an ended revocation within 10s")
		time.Sleep(time.Millisecond)
	}
}

// TestMemoryReturnsAfterMassExpiry: a million ended revocations, swept,
// leave the heap near where it started.
func TestMemoryReturnsAfterMassExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ~200 MB")
	}
	c := testkit.NewClockAt(time.Unix(1_700_000_000, 0))
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	s := memstore.New(&memstore.Options{Now: c.Now, SweepInterval: -1})
	defer s.Close()
	before := heap()
	const n = 300_000
	for i := range n {
		var id codec.SessionID
		id[0], id[1], id[2] = byte(i), byte(i>>8), byte(i>>16)
		_ = s.Revoke(t.Context(), fmt.Sprint("user", i), id, c.Now().Add(time.Second))
	}
	full := heap()
	c.Advance(time.Second)
	s.Sweep()
	after := heap()
	t.Logf("heap: %d KiB empty, %d KiB with %d revocations, %d KiB after they expired", before>>10, full>>10, n, after>>10)
	grown := int64(after) - int64(before)
	assert.LessOrEqual(t, grown, int64(full-before)/10,
		"after a mass expiry the store still holds %d KiB (%d KiB when full): maps were not rebuilt", grown>>10, (full-before)>>10)
}

func BenchmarkEpoch(b *testing.B) {
	s := memstore.New(nil)
	defer s.Close()
	ctx := b.Context()
	_, _ = s.BumpEpoch(ctx, "alice")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Epoch(ctx, "alice"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	s := memstore.New(nil)
	defer s.Close()
	ctx := b.Context()
	for i := range 1000 {
		var id codec.SessionID
		id[0], id[1] = byte(i), byte(i>>8)
		_ = s.Revoke(ctx, fmt.Sprint("user", i%100), id, time.Now().Add(time.Hour))
	}
	miss := codec.SessionID{0xff, 0xff, 0xff}
	b.ReportAllocs()
	for b.Loop() {
		if st, err := s.Lookup(ctx, "user7", miss); st.Revoked || err != nil {
			b.Fatal(st, err)
		}
	}
}
