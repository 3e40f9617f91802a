package boltstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/boltstore"
	"github.com/sealedsession/sealedsession/versioning/storetest"
)

func open(t *testing.T, path string, o *boltstore.Options) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, o)
	require.NoError(t, err, "Open")
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) versioning.Store {
		return open(t, filepath.Join(t.TempDir(), "store.db"), &boltstore.Options{Now: now})
	})
}

func TestDurableAcrossReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store.db")
	s := open(t, path, nil)
	_, err := s.BumpEpoch(ctx, "alice")
	require.NoError(t, err)
	_, err = s.BumpEpoch(ctx, "alice")
	require.NoError(t, err)
	_, err = s.BumpEpoch(ctx, "") // the empty ID is an ordinary key
	require.NoError(t, err)
	require.NoError(t, s.BumpGlobalEpoch(ctx))
	now := time.Now()
	live, gone := codec.SessionID{1}, codec.SessionID{2}
	require.NoError(t, s.Revoke(ctx, "alice", live, now.Add(time.Hour)))
	require.NoError(t, s.Revoke(ctx, "alice", gone, now.Add(50*time.Millisecond)))
	require.NoError(t, s.Close())

	s = open(t, path, &boltstore.Options{Now: func() time.Time { return now.Add(time.Second) }})
	for user, want := range map[string]uint64{"alice": 3, "": 2, "bob": 1} {
		e, err := s.Epoch(ctx, user)
		assert.NoError(t, err, "after reopen Epoch(%q)", user)
		assert.Equal(t, want, e, "after reopen Epoch(%q)", user)
	}
	st, err := s.Lookup(ctx, "alice", live)
	assert.NoError(t, err, "after reopen Lookup of a live revocation")
	assert.True(t, st.Revoked, "after reopen a live revocation is lost: %+v", st)
	assert.Equal(t, uint64(3), st.Epoch, "after reopen the epoch is lost: %+v", st)
	st, err = s.Lookup(ctx, "alice", gone)
	assert.NoError(t, err, "after reopen Lookup of an expired revocation")
	assert.False(t, st.Revoked, "after reopen an expired revocation is reported: %+v", st)
	// Open dropped the expired entry.
	_, n := s.Len()
	assert.Equal(t, 1, n, "after reopen revocations held, want 1 live entry")
}

func TestSweepBoundsFile(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	path := filepath.Join(t.TempDir(), "store.db")
	s := open(t, path, &boltstore.Options{Now: clock, SweepInterval: -1})
	ctx := t.Context()
	for i := range 200 {
		var id codec.SessionID
		id[0], id[1] = byte(i), byte(i>>8)
		require.NoError(t, s.Revoke(ctx, fmt.Sprint("user", i%50), id, clock().Add(time.Second)))
		mu.Lock()
		now = now.Add(time.Second)
		mu.Unlock()
	}
	// A user's write drops that user's ended revocations: at most a
	// second's worth per user is left before any sweep.
	_, n := s.Len()
	require.LessOrEqual(t, n, 50, "revocations held after 200 expired ones: writes do not prune")
	n, err := s.Sweep(ctx)
	require.NoError(t, err, "Sweep")
	require.Equal(t, 0, n, "Sweep left revocations")
	_ = s.Close()
	// Count what is left in the file by reopening with a clock at the
	// start, so nothing is skipped as expired on load.
	start := time.Unix(0, 0)
	s2 := open(t, path, &boltstore.Options{Now: func() time.Time { return start }})
	users, n := s2.Len()
	assert.Equal(t, 0, users, "users left in the file after all expired and a sweep")
	assert.Equal(t, 0, n, "revocations left in the file after all expired and a sweep")
}

// TestAnonymousWritesNothing: revoking anonymous sessions neither grows the
// file nor the mirror.
func TestAnonymousWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s := open(t, path, nil)
	fi0, _ := os.Stat(path)
	for range 2000 {
		id, _ := codec.NewSessionID()
		require.NoError(t, s.Revoke(t.Context(), "", id, time.Now().Add(time.Hour)))
	}
	fi1, _ := os.Stat(path)
	users, n := s.Len()
	assert.Equal(t, 0, users, "anonymous revocations grew the store: users")
	assert.Equal(t, 0, n, "anonymous revocations grew the store: revocations")
	assert.Equal(t, fi0.Size(), fi1.Size(), "anonymous revocations grew the store: file size")
}

// TestFileReuseAndCompaction: the file stops growing under churn (freed
// pages are reused), and shrinks after a mass expiry (compaction).
func TestFileReuseAndCompaction(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	path := filepath.Join(t.TempDir(), "store.db")
	s := open(t, path, &boltstore.Options{Now: clock, SweepInterval: -1, CompactMinBytes: 128 << 10})
	ctx := t.Context()
	size := func() int64 {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		return fi.Size()
	}
	// Revocations are written one transaction per user here, in batches
	// to keep the test fast: a batch of users, all ended before the next.
	batch := func(round int) {
		for i := range 200 {
			id, _ := codec.NewSessionID()
			require.NoError(t, s.Revoke(ctx, fmt.Sprintf("r%d-user%d", round, i), id, clock().Add(time.Minute)))
		}
		advance(2 * time.Minute)
		_, err := s.Sweep(ctx)
		require.NoError(t, err)
	}
	batch(0)
	first := size()
	for r := 1; r < 4; r++ {
		batch(r)
	}
	require.Equal(t, int64(0), s.Compactions(), "the churn phase compacted; the test means to see page reuse alone")
	grown := size()
	require.LessOrEqual(t, grown, 2*first, "file grew from %d bytes under churn of the same volume: pages not reused", first)
	// A mass of live revocations, then their mass expiry.
	for i := range 3000 {
		id, _ := codec.NewSessionID()
		require.NoError(t, s.Revoke(ctx, fmt.Sprint("mass", i), id, clock().Add(time.Minute)))
	}
	big := size()
	advance(2 * time.Minute)
	_, err := s.Sweep(ctx)
	require.NoError(t, err)
	small := size()
	t.Logf("file: %d bytes after churn, %d with 3000 live revocations, %d after they expired (%d compactions)", first, big, small, s.Compactions())
	require.NotZero(t, s.Compactions(), "file %d bytes after a mass expiry (was %d): not compacted", small, big)
	require.LessOrEqual(t, small, big/4, "file after a mass expiry (was %d bytes): not compacted", big)
	// The store still works on the compacted file, and it is durable.
	_, err = s.BumpEpoch(ctx, "alice")
	require.NoError(t, err)
	_ = s.Close()
	s2 := open(t, path, &boltstore.Options{Now: clock})
	e, err := s2.Epoch(ctx, "alice")
	assert.NoError(t, err, "after compaction and reopen Epoch")
	assert.Equal(t, uint64(1), e, "after compaction and reopen Epoch")
}

func TestSecondOpenTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	open(t, path, nil)
	start := time.Now()
	_, err := boltstore.Open(path, &boltstore.Options{Timeout: 100 * time.Millisecond})
	require.ErrorIs(t, err, versioning.ErrStoreUnavailable, "second Open of a locked file")
	assert.LessOrEqual(t, time.Since(start), 5*time.Second, "second Open waited too long")
}

func TestReadOnlyWritesFail(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := boltstore.Open(path, nil)
	require.NoError(t, err)
	_, err = s.BumpEpoch(ctx, "alice")
	require.NoError(t, err)
	_ = s.Close()

	ro := open(t, path, &boltstore.Options{ReadOnly: true})
	e, err := ro.Epoch(ctx, "alice")
	require.NoError(t, err, "read-only Epoch")
	require.Equal(t, uint64(1), e, "read-only Epoch")
	checkWrites(t, ro)
}

func checkWrites(t *testing.T, s versioning.Store) {
	t.Helper()
	ctx := t.Context()
	_, err := s.BumpEpoch(ctx, "alice")
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "BumpEpoch")
	assert.ErrorIs(t, s.BumpGlobalEpoch(ctx), versioning.ErrStoreUnavailable, "BumpGlobalEpoch")
	assert.ErrorIs(t, s.Revoke(ctx, "alice", codec.SessionID{9}, time.Now().Add(time.Hour)), versioning.ErrStoreUnavailable, "Revoke")
	// A failed write must not reach the in-memory mirror.
	e, _ := s.Epoch(ctx, "alice")
	assert.Equal(t, uint64(1), e, "Epoch after a failed bump")
	st, _ := s.Lookup(ctx, "alice", codec.SessionID{9})
	assert.False(t, st.Revoked, "a failed Revoke is visible")
}

func TestUnwritableFile(t *testing.T) {
	dir := t.TempDir()
	// A path under a regular file cannot be created, even by root.
	notDir := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(notDir, []byte("x"), 0o600))
	_, err := boltstore.Open(filepath.Join(notDir, "store.db"), nil)
	require.ErrorIs(t, err, versioning.ErrStoreUnavailable, "Open under a regular file")
	// A file that is not a bbolt database.
	garbage := filepath.Join(dir, "garbage.db")
	require.NoError(t, os.WriteFile(garbage, make([]byte, 8192), 0o600))
	_, err = boltstore.Open(garbage, nil)
	require.ErrorIs(t, err, versioning.ErrStoreUnavailable, "Open of a garbage file")
	// A read-only file, for a non-root user (root ignores file modes).
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro.db")
		s := open(t, ro, nil)
		_ = s.Close()
		require.NoError(t, os.Chmod(ro, 0o400))
		_, err = boltstore.Open(ro, &boltstore.Options{Timeout: 100 * time.Millisecond})
		require.ErrorIs(t, err, versioning.ErrStoreUnavailable, "Open of a read-only file")
	}
}

func TestWriteAfterCloseAndCancel(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "store.db"), nil)
	_, err := s.BumpEpoch(t.Context(), "alice")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = s.BumpEpoch(ctx, "alice")
	require.ErrorIs(t, err, context.Canceled, "cancelled BumpEpoch")
	require.ErrorIs(t, err, versioning.ErrStoreUnavailable, "cancelled BumpEpoch")
	_ = s.Close()
	_, err = s.BumpEpoch(t.Context(), "alice")
	assert.ErrorIs(t, err, versioning.ErrClosed, "BumpEpoch after Close")
}

func BenchmarkEpoch(b *testing.B) {
	s, err := boltstore.Open(filepath.Join(b.TempDir(), "store.db"), nil)
	require.NoError(b, err)
	defer s.Close()
	ctx := context.Background()
	_, _ = s.BumpEpoch(ctx, "alice")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Epoch(ctx, "alice"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBumpEpoch measures a durable write (one synced bbolt commit).
func BenchmarkBumpEpoch(b *testing.B) {
	s, err := boltstore.Open(filepath.Join(b.TempDir(), "store.db"), nil)
	require.NoError(b, err)
	defer s.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.BumpEpoch(ctx, "alice"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSessionsDurable(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store.db")
	s := open(t, path, nil)
	now := time.Now().Truncate(time.Millisecond)
	a := versioning.SessionInfo{ID: codec.SessionID{1}, Created: now, LastSeen: now, Expires: now.Add(time.Hour), Network: "192.0.2.0/24", Client: "Firefox on Linux"}
	b := versioning.SessionInfo{ID: codec.SessionID{2}, Created: now.Add(time.Second), LastSeen: now, Expires: now.Add(time.Hour)}
	for _, si := range []versioning.SessionInfo{a, b} {
		_, err := s.AddSession(ctx, "alice", si, 0, false)
		require.NoError(t, err)
	}
	seen := now.Add(time.Minute)
	require.NoError(t, s.TouchSession(ctx, "alice", a.ID, seen))
	require.NoError(t, s.Close())
	s = open(t, path, nil)
	l, err := s.Sessions(ctx, "alice")
	require.NoError(t, err, "after reopen Sessions")
	require.Len(t, l, 2, "after reopen Sessions = %+v", l)
	require.Equal(t, a.ID, l[0].ID, "after reopen: %+v", l[0])
	require.True(t, l[0].LastSeen.Equal(seen), "after reopen: %+v (touch not flushed at Close?)", l[0])
	require.Equal(t, a.Client, l[0].Client, "after reopen: %+v", l[0])
	require.Equal(t, a.Network, l[0].Network, "after reopen: %+v", l[0])
	require.True(t, l[0].Expires.Equal(a.Expires), "after reopen: %+v", l[0])
	require.NoError(t, s.RemoveSession(ctx, "alice", a.ID))
	_ = s.Close()
	s = open(t, path, nil)
	l, err = s.Sessions(ctx, "alice")
	require.NoError(t, err, "RemoveSession not durable")
	require.Len(t, l, 1, "RemoveSession not durable: %+v", l)
	assert.Equal(t, b.ID, l[0].ID, "RemoveSession not durable: %+v", l)
}
