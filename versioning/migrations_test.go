package versioning_test

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/versioning"
)

// A synthetic version-0 layout: version byte 0, the 16-byte session ID,
// issued-at as big-endian uint32 Unix seconds, a length-prefixed user ID,
// then the values section exactly as in version 1.
func encodeV0(id codec.SessionID, issued uint32, user string, values []byte) []byte {
	b := []byte{0}
	b = append(b, id[:]...)
	b = binary.BigEndian.AppendUint32(b, issued)
	b = append(b, byte(len(user)))
	b = append(b, user...)
	return append(b, values...)
}

func upgradeV0(old []byte) ([]byte, error) {
	if len(old) < 1+16+4+1 {
		return nil, errors.New("v0 payload truncated")
	}
	var h codec.Header
	copy(h.ID[:], old[1:17])
	h.IssuedAt = time.Unix(int64(binary.BigEndian.Uint32(old[17:21])), 0)
	h.LastSeen = h.IssuedAt
	n := int(old[21])
	if len(old) < 22+n {
		return nil, errors.New("v0 user ID truncated")
	}
	h.UserID = string(old[22 : 22+n])
	out, err := codec.AppendHeader(nil, &h)
	if err != nil {
		return nil, err
	}
	return append(out, old[22+n:]...), nil
}

func TestMigrationsUpgradeV0(t *testing.T) {
	var m versioning.Migrations
	require.NoError(t, m.Register(0, upgradeV0))
	// Build the values section with the current codec, then cut off the
	// version-1 header to wrap it in the version-0 layout.
	cart := codec.NewKey[[]string]("cart")
	p := codec.NewPayload(codec.Header{})
	require.NoError(t, cart.Set(p, []string{"apple", "pear"}))
	v1 := p.AppendEncode(nil)
	values := v1[codec.FixedHeaderSize:]
	id := codec.SessionID{7, 7, 7}
	old := encodeV0(id, 1_750_000_000, "alice", values)

	got, err := m.Upgrade(old)
	require.NoError(t, err)
	q, err := codec.Decode(got, nil)
	require.NoError(t, err, "upgraded payload does not decode")
	h := q.Header()
	require.Equal(t, id, h.ID, "upgraded header")
	require.Equal(t, "alice", h.UserID, "upgraded header")
	require.True(t, h.IssuedAt.Equal(time.Unix(1_750_000_000, 0)), "upgraded header = %+v", h)
	c, ok := cart.Get(q)
	require.True(t, ok, "value lost in migration")
	require.Len(t, c, 2, "value lost in migration")
	require.Equal(t, "pear", c[1], "value lost in migration")
	// Current payloads pass through untouched.
	same, err := m.Upgrade(got)
	require.NoError(t, err, "current payload")
	assert.Same(t, &got[0], &same[0], "current payload not returned as is")
}

func TestMigrationsErrors(t *testing.T) {
	var m versioning.Migrations
	_, err := m.Upgrade([]byte{0, 1, 2})
	require.ErrorIs(t, err, versioning.ErrUnsupportedVersion, "unregistered version")
	var ve *codec.VersionError
	_, err = m.Upgrade([]byte{codec.Version + 1})
	require.ErrorAs(t, err, &ve, "newer version")
	require.Equal(t, uint8(codec.Version+1), ve.Version, "newer version")
	_, err = m.Upgrade(nil)
	require.ErrorIs(t, err, versioning.ErrUnsupportedVersion, "empty")
	for _, tc := range []struct {
		from uint8
		step versioning.Migration
	}{{0, nil}, {codec.Version, upgradeV0}, {200, upgradeV0}} {
		assert.ErrorIs(t, m.Register(tc.from, tc.step), versioning.ErrInvalidMigration, "Register(%d)", tc.from)
	}
	bad := errors.New("boom")
	require.NoError(t, m.Register(0, func([]byte) ([]byte, error) { return nil, bad }))
	assert.ErrorIs(t, m.Register(0, upgradeV0), versioning.ErrInvalidMigration, "duplicate Register")
	_, err = m.Upgrade([]byte{0})
	assert.ErrorIs(t, err, bad, "failing step")
	var w versioning.Migrations
	_ = w.Register(0, func(b []byte) ([]byte, error) { return []byte{0}, nil }) // loops on itself
	_, err = w.Upgrade([]byte{0})
	assert.ErrorIs(t, err, versioning.ErrInvalidMigration, "step producing the wrong version")
}
