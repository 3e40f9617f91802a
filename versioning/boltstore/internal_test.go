package boltstore

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

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

// TestFormat1Converted opens a format 1 file (epochs in bucket "epochs",
// revocations by ID in bucket "revocations"): read-only it shows the
// epochs; read-write it converts them, drops the revocations, and the
// file is format 2 afterwards.
func TestFormat1Converted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for name, kv := range map[string][2][]byte{
			"epochs":      {[]byte("ualice"), binary.BigEndian.AppendUint64(nil, 3)},
			"revocations": {make([]byte, 16), binary.BigEndian.AppendUint64(nil, uint64(time.Now().Add(time.Hour).UnixNano()))},
			"global":      {[]byte("epoch"), binary.BigEndian.AppendUint64(nil, 2)},
			"meta":        {[]byte("format"), binary.BigEndian.AppendUint64(nil, 1)},
		} {
			b, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			if err := b.Put(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	for _, ro := range []bool{true, false, false} {
		s, err := Open(path, &Options{ReadOnly: ro})
		if err != nil {
			t.Fatal(err)
		}
		if e, err := s.Epoch(t.Context(), "alice"); err != nil || e != 5 {
			t.Errorf("read-only %v: Epoch(alice) = %d, %v; want 5 (3 + global 2)", ro, e, err)
		}
		_ = s.Close()
	}
	db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("epochs")) != nil || tx.Bucket([]byte("revocations")) != nil {
			t.Error("format 1 buckets left after conversion")
		}
		if v := tx.Bucket(bucketMeta).Get(keyFormat); binary.BigEndian.Uint64(v) != formatVersion {
			t.Errorf("format after conversion = %x", v)
		}
		return nil
	})
}
