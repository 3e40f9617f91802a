package sealed

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// testKey returns a key whose secret is start, start+1, ..., start+31.
func testKey(t testing.TB, start byte) *Key {
	t.Helper()
	var s [KeySize]byte
	for i := range s {
		s[i] = start + byte(i)
	}
	k, err := NewKey(s[:])
	require.NoError(t, err)
	return k
}

func testRing(t testing.TB, keys ...*Key) *Keyring {
	t.Helper()
	r, err := NewKeyring(keys[0], keys[1:]...)
	require.NoError(t, err)
	return r
}

func testSealer(t testing.TB, r *Keyring, purpose string) *Sealer {
	t.Helper()
	s, err := NewSealer(r, purpose, nil)
	require.NoError(t, err)
	return s
}

// pattern returns n deterministic, non-constant bytes.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}
