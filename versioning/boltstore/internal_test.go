package boltstore

import (
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
)

// TestOpenFailure: a file that cannot be opened for writing (here a
// directory, or a path under a missing directory: both fail for any user,
// root included) gives ErrStoreUnavailable naming the path.
func TestOpenFailure(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{dir, filepath.Join(dir, "missing", "store.db")} {
		_, err := Open(path, nil)
		require.ErrorIs(t, err, versioning.ErrStoreUnavailable, "Open(%s)", path)
		assert.ErrorContains(t, err, path, "error does not name the file")
	}
}

// TestWriteFailureMidLife loses the file underneath a working store: writes
// fail cleanly, reads keep serving the mirror, nothing panics.
func TestWriteFailureMidLife(t *testing.T) {
	ctx := t.Context()
	s, err := Open(filepath.Join(t.TempDir(), "store.db"), nil)
	require.NoError(t, err)
	_, err = s.BumpEpoch(ctx, "alice")
	require.NoError(t, err)
	require.NoError(t, s.db.Close()) // the store does not know
	_, err = s.BumpEpoch(ctx, "alice")
	assert.ErrorIs(t, err, versioning.ErrStoreUnavailable, "BumpEpoch")
	assert.ErrorIs(t, s.BumpGlobalEpoch(ctx), versioning.ErrStoreUnavailable, "BumpGlobalEpoch")
	assert.ErrorIs(t, s.Revoke(ctx, "alice", codec.SessionID{3}, time.Now().Add(time.Hour)), versioning.ErrStoreUnavailable, "Revoke")
	e, err := s.Epoch(ctx, "alice")
	assert.NoError(t, err, "Epoch after failed writes")
	assert.Equal(t, uint64(1), e, "Epoch after failed writes")
	st, err := s.Lookup(ctx, "alice", codec.SessionID{3})
	assert.NoError(t, err, "Lookup after a failed Revoke")
	assert.False(t, st.Revoked, "a failed Revoke is visible")
	_ = s.Close()
}

// TestFormat1Converted opens a format 1 file (epochs in bucket "epochs",
// revocations by ID in bucket "revocations"): read-only it shows the
// epochs; read-write it converts them, drops the revocations, and the
// file is format 2 afterwards.
func TestFormat1Converted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
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
	require.NoError(t, err)
	_ = db.Close()
	for _, ro := range []bool{true, false, false} {
		s, err := Open(path, &Options{ReadOnly: ro})
		require.NoError(t, err)
		e, err := s.Epoch(t.Context(), "alice")
		assert.NoError(t, err, "read-only %v: Epoch(alice)", ro)
		assert.Equal(t, uint64(5), e, "read-only %v: Epoch(alice) (3 + global 2)", ro)
		_ = s.Close()
	}
	db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		assert.Nil(t, tx.Bucket([]byte("epochs")), "format 1 buckets left after conversion")
		assert.Nil(t, tx.Bucket([]byte("revocations")), "format 1 buckets left after conversion")
		v := tx.Bucket(bucketMeta).Get(keyFormat)
		assert.Equal(t, formatVersion, binary.BigEndian.Uint64(v), "format after conversion = %x", v)
		return nil
	})
}
