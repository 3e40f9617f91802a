package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
	"github.com/sealedsession/sealedsession/versioning/boltstore"
	"github.com/sealedsession/sealedsession/versioning/storetest"
)

func open(t *testing.T, path string, o *boltstore.Options) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
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
	if _, err := s.BumpEpoch(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BumpEpoch(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BumpEpoch(ctx, ""); err != nil { // the empty ID is an ordinary key
		t.Fatal(err)
	}
	if err := s.BumpGlobalEpoch(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	live, gone := codec.SessionID{1}, codec.SessionID{2}
	if err := s.Revoke(ctx, "alice", live, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, "alice", gone, now.Add(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path, &boltstore.Options{Now: func() time.Time { return now.Add(time.Second) }})
	for user, want := range map[string]uint64{"alice": 3, "": 2, "bob": 1} {
		if e, err := s.Epoch(ctx, user); err != nil || e != want {
			t.Errorf("after reopen Epoch(%q) = %d, %v; want %d", user, e, err, want)
		}
	}
	if st, err := s.Lookup(ctx, "alice", live); err != nil || !st.Revoked || st.Epoch != 3 {
		t.Errorf("after reopen a live revocation or the epoch is lost: %+v, %v", st, err)
	}
	if st, err := s.Lookup(ctx, "alice", gone); err != nil || st.Revoked {
		t.Errorf("after reopen an expired revocation is reported: %+v, %v", st, err)
	}
	// Open dropped the expired entry.
	if _, n := s.Len(); n != 1 {
		t.Errorf("after reopen %d revocations held, want 1 live entry", n)
	}
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
		if err := s.Revoke(ctx, fmt.Sprint("user", i%50), id, clock().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		now = now.Add(time.Second)
		mu.Unlock()
	}
	// A user's write drops that user's ended revocations: at most a
	// second's worth per user is left before any sweep.
	if _, n := s.Len(); n > 50 {
		t.Fatalf("%d revocations held after 200 expired ones: writes do not prune", n)
	}
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("Sweep = %d, %v; want 0 left", n, err)
	}
	_ = s.Close()
	// Count what is left in the file by reopening with a clock at the
	// start, so nothing is skipped as expired on load.
	start := time.Unix(0, 0)
	s2 := open(t, path, &boltstore.Options{Now: func() time.Time { return start }})
	if users, n := s2.Len(); users != 0 || n != 0 {
		t.Fatalf("%d users, %d revocations left in the file after all expired and a sweep", users, n)
	}
}

// TestAnonymousWritesNothing: revoking anonymous sessions neither grows the
// file nor the mirror.
func TestAnonymousWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s := open(t, path, nil)
	fi0, _ := os.Stat(path)
	for range 2000 {
		id, _ := codec.NewSessionID()
		if err := s.Revoke(t.Context(), "", id, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	fi1, _ := os.Stat(path)
	if users, n := s.Len(); users != 0 || n != 0 || fi1.Size() != fi0.Size() {
		t.Fatalf("anonymous revocations grew the store: %d users, %d revocations, file %d -> %d bytes", users, n, fi0.Size(), fi1.Size())
	}
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
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	// Revocations are written one transaction per user here, in batches
	// to keep the test fast: a batch of users, all ended before the next.
	batch := func(round int) {
		for i := range 200 {
			id, _ := codec.NewSessionID()
			if err := s.Revoke(ctx, fmt.Sprintf("r%d-user%d", round, i), id, clock().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		advance(2 * time.Minute)
		if _, err := s.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
	}
	batch(0)
	first := size()
	for r := 1; r < 4; r++ {
		batch(r)
	}
	if s.Compactions() != 0 {
		t.Fatalf("the churn phase compacted (%d); the test means to see page reuse alone", s.Compactions())
	}
	if grown := size(); grown > 2*first {
		t.Fatalf("file grew from %d to %d bytes under churn of the same volume: pages not reused", first, grown)
	}
	// A mass of live revocations, then their mass expiry.
	for i := range 3000 {
		id, _ := codec.NewSessionID()
		if err := s.Revoke(ctx, fmt.Sprint("mass", i), id, clock().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	big := size()
	advance(2 * time.Minute)
	if _, err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	small := size()
	t.Logf("file: %d bytes after churn, %d with 3000 live revocations, %d after they expired (%d compactions)", first, big, small, s.Compactions())
	if s.Compactions() == 0 || small > big/4 {
		t.Fatalf("file %d bytes after a mass expiry (was %d): not compacted", small, big)
	}
	// The store still works on the compacted file, and it is durable.
	if _, err := s.BumpEpoch(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s2 := open(t, path, &boltstore.Options{Now: clock})
	if e, err := s2.Epoch(ctx, "alice"); err != nil || e != 1 {
		t.Fatalf("after compaction and reopen Epoch = %d, %v", e, err)
	}
}

func TestSecondOpenTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	open(t, path, nil)
	start := time.Now()
	_, err := boltstore.Open(path, &boltstore.Options{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Fatalf("second Open of a locked file = %v, want an error matching ErrStoreUnavailable", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("second Open waited %v", time.Since(start))
	}
}

func TestReadOnlyWritesFail(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.BumpEpoch(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	ro := open(t, path, &boltstore.Options{ReadOnly: true})
	if e, err := ro.Epoch(ctx, "alice"); err != nil || e != 1 {
		t.Fatalf("read-only Epoch = %d, %v", e, err)
	}
	checkWrites(t, ro)
}

func checkWrites(t *testing.T, s versioning.Store) {
	t.Helper()
	ctx := t.Context()
	_, err := s.BumpEpoch(ctx, "alice")
	if !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("BumpEpoch = %v, want an error matching ErrStoreUnavailable", err)
	}
	if err := s.BumpGlobalEpoch(ctx); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("BumpGlobalEpoch = %v", err)
	}
	if err := s.Revoke(ctx, "alice", codec.SessionID{9}, time.Now().Add(time.Hour)); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("Revoke = %v", err)
	}
	// A failed write must not reach the in-memory mirror.
	if e, _ := s.Epoch(ctx, "alice"); e != 1 {
		t.Errorf("Epoch after a failed bump = %d, want 1", e)
	}
	if st, _ := s.Lookup(ctx, "alice", codec.SessionID{9}); st.Revoked {
		t.Error("a failed Revoke is visible")
	}
}

func TestUnwritableFile(t *testing.T) {
	dir := t.TempDir()
	// A path under a regular file cannot be created, even by root.
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := boltstore.Open(filepath.Join(notDir, "store.db"), nil)
	if !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Fatalf("Open under a regular file = %v", err)
	}
	// A file that is not a bbolt database.
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, make([]byte, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := boltstore.Open(garbage, nil); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Fatalf("Open of a garbage file = %v", err)
	}
	// A read-only file, for a non-root user (root ignores file modes).
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro.db")
		s := open(t, ro, nil)
		_ = s.Close()
		if err := os.Chmod(ro, 0o400); err != nil {
			t.Fatal(err)
		}
		if _, err := boltstore.Open(ro, &boltstore.Options{Timeout: 100 * time.Millisecond}); !errors.Is(err, versioning.ErrStoreUnavailable) {
			t.Fatalf("Open of a read-only file = %v", err)
		}
	}
}

func TestWriteAfterCloseAndCancel(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "store.db"), nil)
	if _, err := s.BumpEpoch(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.BumpEpoch(ctx, "alice"); !errors.Is(err, context.Canceled) || !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Fatalf("cancelled BumpEpoch = %v", err)
	}
	_ = s.Close()
	if _, err := s.BumpEpoch(t.Context(), "alice"); !errors.Is(err, versioning.ErrClosed) {
		t.Fatalf("BumpEpoch after Close = %v", err)
	}
}

func BenchmarkEpoch(b *testing.B) {
	s, err := boltstore.Open(filepath.Join(b.TempDir(), "store.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
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
	if err != nil {
		b.Fatal(err)
	}
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
		if _, err := s.AddSession(ctx, "alice", si, 0, false); err != nil {
			t.Fatal(err)
		}
	}
	seen := now.Add(time.Minute)
	if err := s.TouchSession(ctx, "alice", a.ID, seen); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path, nil)
	l, err := s.Sessions(ctx, "alice")
	if err != nil || len(l) != 2 {
		t.Fatalf("after reopen Sessions = %+v, %v", l, err)
	}
	if l[0].ID != a.ID || !l[0].LastSeen.Equal(seen) || l[0].Client != a.Client || l[0].Network != a.Network || !l[0].Expires.Equal(a.Expires) {
		t.Fatalf("after reopen: %+v (touch not flushed at Close?)", l[0])
	}
	if err := s.RemoveSession(ctx, "alice", a.ID); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s = open(t, path, nil)
	if l, err := s.Sessions(ctx, "alice"); err != nil || len(l) != 1 || l[0].ID != b.ID {
		t.Fatalf("RemoveSession not durable: %+v, %v", l, err)
	}
}
