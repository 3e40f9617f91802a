package legacy_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/versioning/legacy"
)

// FuzzLegacyGob fuzzes what FuzzLegacyRead cannot reach: the gob payload
// behind a valid MAC. Each input is sealed with the reader's own hash and
// block keys (securecookie with a pass-through serializer), so Read gets
// past the MAC and decryption and the gob decoder and the Map function see
// arbitrary bytes. A legacy cookie is only as trusted as whoever held the
// old keys, so this must never panic either.
func FuzzLegacyGob(f *testing.F) {
	gob := securecookie.GobEncoder{}
	for _, v := range []map[any]any{
		{"user_id": "alice", "cart": []string{"x", "y"}, "visits": 3},
		{},
		{"user_id": 42},
		{1: "one", "cart": "not a slice"},
	} {
		b, err := gob.Serialize(v)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	r, err := legacy.NewReader(legacy.Options{CookieName: "app", AllowUnprefixedName: true, HashKey: hashKey, BlockKey: blockKey, Map: mapValues})
	require.NoError(f, err)
	enc := securecookie.New(hashKey, blockKey).SetSerializer(securecookie.NopEncoder{}).MaxLength(0)
	now := time.Now()
	f.Fuzz(func(t *testing.T, payload []byte) {
		value, err := enc.Encode("app", payload)
		if err != nil {
			return // securecookie refuses to encode it; nothing reaches Read
		}
		c, err := r.Read(value, now)
		p := c.Payload
		if err != nil {
			if p != nil {
				t.Fatal("payload returned with an error")
			}
			if !errors.Is(err, legacy.ErrInvalid) {
				t.Fatalf("error does not match ErrInvalid: %v", err)
			}
			return
		}
		if p.Header().ID.IsZero() || !p.Dirty() {
			t.Fatal("accepted cookie gave an unusable payload")
		}
	})
}
