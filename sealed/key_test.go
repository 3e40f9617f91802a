package sealed

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeyTextRoundTrip(t *testing.T) {
	for i := 0; i < 20; i++ {
		k, err := GenerateKey()
		require.NoError(t, err)
		text := k.Export()
		require.Len(t, text, keyTextLen, "Export()")
		require.Equal(t, 53, keyTextLen)
		require.True(t, strings.HasPrefix(text, KeyPrefix), "Export() = %q lacks the prefix", text)
		k2, err := ParseKey("  " + text + "\n")
		require.NoError(t, err)
		require.True(t, k.equal(k2), "ParseKey(Export()) is another key")
		require.Equal(t, k.ID(), k2.ID(), "ParseKey(Export()) is another key")
	}
	a, _ := GenerateKey()
	b, _ := GenerateKey()
	assert.False(t, a.equal(b), "GenerateKey returned the same secret twice")
}

func TestKeyIDString(t *testing.T) {
	for _, tc := range []struct {
		id   KeyID
		want string
	}{{0, "00000000"}, {0x1a2b3c4d, "1a2b3c4d"}, {0xffffffff, "ffffffff"}, {0x10, "00000010"}} {
		assert.Equal(t, tc.want, tc.id.String(), "KeyID(%#x).String()", uint32(tc.id))
	}
	// The key ID is a function of the secret alone.
	a, b, c := testKey(t, 7), testKey(t, 7), testKey(t, 8)
	// key IDs are derived from the secret
	assert.NotSame(t, a, b)
	assert.Equal(t, a.ID(), b.ID())
	assert.NotEqual(t, a.ID(), c.ID())
}

func TestNewKeyCopiesSecret(t *testing.T) {
	s := make([]byte, KeySize)
	k, err := NewKey(s)
	require.NoError(t, err)
	id := k.ID()
	s[0] = 1
	k2, _ := NewKey(make([]byte, KeySize))
	require.True(t, k.equal(k2), "NewKey kept a reference to the caller's slice")
	require.Equal(t, id, k.ID(), "NewKey kept a reference to the caller's slice")
	for _, n := range []int{0, 16, 31, 33, 64} {
		_, err := NewKey(make([]byte, n))
		assert.ErrorIs(t, err, ErrInvalidKey, "NewKey(%d bytes)", n)
		assert.ErrorContains(t, err, fmt.Sprint(n), "NewKey(%d bytes)", n)
	}
}

func assertNoSecret(t *testing.T, what, s string, keys ...*Key) {
	t.Helper()
	for _, k := range keys {
		for _, f := range secretFragments(k) {
			require.NotContains(t, s, f, "%s contains key material", what)
		}
	}
}

func TestParseKeyErrors(t *testing.T) {
	k := testKey(t, 0xa0)
	good := k.Export()
	body := good[len(KeyPrefix):]
	raw, _ := base64.RawURLEncoding.DecodeString(body)
	badSum := append([]byte(nil), raw...)
	badSum[KeySize] ^= 0x40
	for _, tc := range []struct {
		in, want string
	}{
		{"", "empty"},
		{"   ", "empty"},
		{body, `missing "ssk1_" prefix`},
		{"SSK1_" + body, "missing"},
		{KeyPrefix, "wrong length: 0 bytes"},
		{good[:len(good)-4], "wrong length: 33 bytes"},
		{good + "AAAA", "wrong length: 39 bytes"},
		{good + strings.Repeat("A", 40), "wrong length: 93 characters"},
		{good[:10] + "+" + good[11:], "bad base64url at offset 10"},
		{good[:20] + "/" + good[21:], "bad base64url at offset 20"},
		{good[:30] + "\n" + good[31:], "bad base64url at offset 30"},
		{good[:len(good)-2] + "==", "bad base64url at offset 51"},
		{good + "=", "bad base64url"},
		{good[:len(good)-1] + "ü", "bad base64url"},
		{KeyPrefix + base64.RawURLEncoding.EncodeToString(badSum), "checksum mismatch"},
		{KeyPrefix + base64.RawURLEncoding.EncodeToString(raw[:KeySize]), "wrong length: 32 bytes"},
	} {
		_, err := ParseKey(tc.in)
		if !assert.ErrorIs(t, err, ErrInvalidKey, "ParseKey(%q)", tc.in) ||
			!assert.ErrorContains(t, err, tc.want, "ParseKey(%q)", tc.in) {
			continue
		}
		assertNoSecret(t, "error", err.Error(), k)
	}
}

func TestParseKeyring(t *testing.T) {
	k1, k2, k3 := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	text := k1.Export() + ", " + k2.Export() + " ,\t" + k3.Export() + "\n"
	r, err := ParseKeyring(text)
	require.NoError(t, err)
	ks := r.Keys()
	require.Len(t, ks, 3, "ParseKeyring: %v", r)
	require.True(t, ks[0].equal(k1) && ks[1].equal(k2) && ks[2].equal(k3) && r.Primary().equal(k1), "ParseKeyring: %v", r)
	r2, err := ParseKeyring(r.Export())
	require.NoError(t, err, "Export round trip")
	require.Equal(t, r.Export(), r2.Export(), "Export round trip")
	require.Equal(t, k1.Export()+","+k2.Export()+","+k3.Export(), r.Export(), "Export round trip")
	ks[0] = nil // Keys returns a copy
	require.NotNil(t, r.Primary(), "Keys() exposed the ring's slice")

	bad := k2.Export()
	bad = bad[:12] + "*" + bad[13:]
	for _, tc := range []struct {
		in   string
		is   error
		want string
	}{
		{"", ErrEmptyKeyring, "empty key ring"},
		{" \n\t ", ErrEmptyKeyring, "empty key ring"},
		{",", ErrInvalidKey, "position 1: empty"},
		{k1.Export() + ",", ErrInvalidKey, "position 2: empty"},
		{k1.Export() + ",," + k2.Export(), ErrInvalidKey, "position 2: empty"},
		{k1.Export() + "," + bad, ErrInvalidKey, "position 2: bad base64url at offset 12"},
		{k1.Export() + "," + k2.Export()[:40], ErrInvalidKey, "position 2: wrong length: 26 bytes"},
		{k1.Export() + "," + k2.Export() + "," + k1.Export(), ErrDuplicateKey, "position 3 repeats position 1"},
		{k1.Export() + "," + k2.Export() + "," + k2.Export(), ErrDuplicateKey, "position 3 repeats position 2"},
		{k1.Export() + ";" + k2.Export(), ErrInvalidKey, "position 1: wrong length"},
	} {
		_, err := ParseKeyring(tc.in)
		if !assert.ErrorIs(t, err, tc.is, "ParseKeyring(%q)", tc.in) ||
			!assert.ErrorContains(t, err, tc.want, "ParseKeyring(%q)", tc.in) {
			continue
		}
		assertNoSecret(t, "error", err.Error(), k1, k2, k3)
	}
	_, err = NewKeyring(nil)
	assert.ErrorIs(t, err, ErrInvalidKey, "NewKeyring(nil)")
	_, err = NewKeyring(k1, k2, nil)
	assert.ErrorIs(t, err, ErrInvalidKey, "NewKeyring(k1, k2, nil)")
	assert.ErrorContains(t, err, "position 3", "NewKeyring(k1, k2, nil)")
	_, err = NewKeyring(k1, k2, k1)
	assert.ErrorIs(t, err, ErrDuplicateKey, "NewKeyring(k1, k2, k1)")
}

// TestDerivationExample pins the intermediate values that SPEC.md
// gives as a worked example.
func TestDerivationExample(t *testing.T) {
	k := testKey(t, 0)
	require.Equal(t, KeyID(0x18b3ff8b), k.ID(), "key ID (spec says 18b3ff8b)")
	require.Equal(t, "ssk1_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8Ys_-L", k.Export(), "text form")
	sub := deriveSubkey(k.bytes()[:], "cookie")
	assert.Equal(t, "3d55c6f3a0af6669355dd8cdce17d80abf102b8be1fa764d60550a2293ad958a", hex.EncodeToString(sub[:]), "subkey")
}
