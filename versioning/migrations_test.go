package versioning_test

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

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
	if err := m.Register(0, upgradeV0); err != nil {
		t.Fatal(err)
	}
	// Build the values section with the current codec, then cut off the
	// version-1 header to wrap it in the version-0 layout.
	cart := codec.NewKey[[]string]("cart")
	p := codec.NewPayload(codec.Header{})
	if err := cart.Set(p, []string{"apple", "pear"}); err != nil {
		t.Fatal(err)
	}
	v1 := p.AppendEncode(nil)
	values := v1[codec.FixedHeaderSize:]
	id := codec.SessionID{7, 7, 7}
	old := encodeV0(id, 1_750_000_000, "alice", values)

	got, err := m.Upgrade(old)
	if err != nil {
		t.Fatal(err)
	}
	q, err := codec.Decode(got, nil)
	if err != nil {
		t.Fatalf("upgraded payload does not decode: %v", err)
	}
	h := q.Header()
	if h.ID != id || h.UserID != "alice" || !h.IssuedAt.Equal(time.Unix(1_750_000_000, 0)) {
		t.Fatalf("upgraded header = %+v", h)
	}
	if c, ok := cart.Get(q); !ok || len(c) != 2 || c[1] != "pear" {
		t.Fatalf("value lost in migration: %v, %v", c, ok)
	}
	// Current payloads pass through untouched.
	if same, err := m.Upgrade(got); err != nil || &same[0] != &got[0] {
		t.Fatalf("current payload not returned as is: %v", err)
	}
}

func TestMigrationsErrors(t *testing.T) {
	var m versioning.Migrations
	if _, err := m.Upgrade([]byte{0, 1, 2}); !errors.Is(err, versioning.ErrUnsupportedVersion) {
		t.Fatalf("unregistered version: %v", err)
	}
	var ve *codec.VersionError
	if _, err := m.Upgrade([]byte{codec.Version + 1}); !errors.As(err, &ve) || ve.Version != codec.Version+1 {
		t.Fatalf("newer version: %v", err)
	}
	if _, err := m.Upgrade(nil); !errors.Is(err, versioning.ErrUnsupportedVersion) {
		t.Fatalf("empty: %v", err)
	}
	for _, tc := range []struct {
		from uint8
		step versioning.Migration
	}{{0, nil}, {codec.Version, upgradeV0}, {200, upgradeV0}} {
		if err := m.Register(tc.from, tc.step); !errors.Is(err, versioning.ErrInvalidMigration) {
			t.Errorf("Register(%d) = %v", tc.from, err)
		}
	}
	bad := errors.New("boom")
	if err := m.Register(0, func([]byte) ([]byte, error) { return nil, bad }); err != nil {
		t.Fatal(err)
	}
	if err := m.Register(0, upgradeV0); !errors.Is(err, versioning.ErrInvalidMigration) {
		t.Errorf("duplicate Register = %v", err)
	}
	if _, err := m.Upgrade([]byte{0}); !errors.Is(err, bad) {
		t.Errorf("failing step: %v", err)
	}
	var w versioning.Migrations
	_ = w.Register(0, func(b []byte) ([]byte, error) { return []byte{0}, nil }) // loops on itself
	if _, err := w.Upgrade([]byte{0}); !errors.Is(err, versioning.ErrInvalidMigration) {
		t.Errorf("step producing the wrong version: %v", err)
	}
}
