package boltstore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
)

// readOnlyOpen opens every file read-only whatever bbolt asks for: the
// file cannot be written even when the test runs as root.
func readOnlyOpen(name string, _ int, _ os.FileMode) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY, 0)
}

func TestOpenUnwritableFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, &Options{openFile: readOnlyOpen})
	t.Log(err)
	if !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Fatalf("Open of an unwritable file = %v, want an error matching ErrStoreUnavailable", err)
	}
	if want := path; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the file", err)
	}
}

// TestWriteFailureMidLife loses the file underneath a working store: writes
// fail cleanly, reads keep serving the mirror, nothing panics.
func TestWriteFailureMidLife(t *testing.T) {
	ctx := t.Context()
	s, err := Open(filepath.Join(t.TempDir(), "store.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.BumpEpoch(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Close(); err != nil { // the store does not know
		t.Fatal(err)
	}
	if _, err := s.BumpEpoch(ctx, "alice"); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("BumpEpoch = %v", err)
	}
	if err := s.BumpGlobalEpoch(ctx); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("BumpGlobalEpoch = %v", err)
	}
	if err := s.Revoke(ctx, "alice", codec.SessionID{3}, time.Now().Add(time.Hour)); !errors.Is(err, versioning.ErrStoreUnavailable) {
		t.Errorf("Revoke = %v", err)
	}
	if e, err := s.Epoch(ctx, "alice"); err != nil || e != 1 {
		t.Errorf("Epoch after failed writes = %d, %v; want 1", e, err)
	}
	if st, err := s.Lookup(ctx, "alice", codec.SessionID{3}); err != nil || st.Revoked {
		t.Errorf("a failed Revoke is visible: %+v, %v", st, err)
	}
	_ = s.Close()
}
