package boltstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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
	storetest.Run(t, func(t *testing.T) versioning.Store {
		return open(t, filepath.Join(t.TempDir(), "store.db"), nil)
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
	live, gone := codec.SessionID{1}, codec.SessionID{2}
	if err := s.Revoke(ctx, live, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, gone, time.Now().Add(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)

	s = open(t, path, nil)
	for user, want := range map[string]uint64{"alice": 3, "": 2, "bob": 1} {
		if e, err := s.Epoch(ctx, user); err != nil || e != want {
			t.Errorf("after reopen Epoch(%q) = %d, %v; want %d", user, e, err, want)
		}
	}
	if r, err := s.IsRevoked(ctx, live); err != nil || !r {
		t.Errorf("after reopen a live revocation is lost: %v, %v", r, err)
	}
	if r, err := s.IsRevoked(ctx, gone); err != nil || r {
		t.Errorf("after reopen an expired revocation is reported: %v, %v", r, err)
	}
	// Open deleted the expired entry from the file.
	if n, err := s.Sweep(ctx); err != nil || n != 1 {
		t.Errorf("Sweep after reopen = %d, %v; want 1 live entry", n, err)
	}
}

func TestSweepBoundsFile(t *testing.T) {
	defer boltstore.SetMinSweep(16)()
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	path := filepath.Join(t.TempDir(), "store.db")
	s := open(t, path, &boltstore.Options{Now: clock})
	ctx := t.Context()
	for i := range 200 {
		var id codec.SessionID
		id[0], id[1] = byte(i), byte(i>>8)
		if err := s.Revoke(ctx, id, now.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
	}
	_ = s.Close()
	// Count what is left in the file by reopening with a clock at the
	// start, so nothing is skipped as expired on load.
	start := time.Unix(0, 0)
	s2 := open(t, path, &boltstore.Options{Now: func() time.Time { return start }})
	if n, err := s2.Sweep(ctx); err != nil || n > 32 {
		t.Fatalf("%d revocations left in the file after 200 expired ones (%v): not swept", n, err)
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
	if err := s.Revoke(ctx, codec.SessionID{9}, time.Now().Add(time.Hour)); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("Revoke = %v", err)
	}
	// A failed write must not reach the in-memory mirror.
	if e, _ := s.Epoch(ctx, "alice"); e != 1 {
		t.Errorf("Epoch after a failed bump = %d, want 1", e)
	}
	if r, _ := s.IsRevoked(ctx, codec.SessionID{9}); r {
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
