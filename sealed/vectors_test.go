package sealed

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vectorFile is one known-answer case of testdata/vectors (see
// SPEC.md, "Test vectors"). The files are written by
// testdata/gen_vectors.go, which implements the spec independently.
type vectorFile struct {
	fields map[string]string
}

func (v vectorFile) hex(t *testing.T, name string) []byte {
	t.Helper()
	b, err := hex.DecodeString(v.fields[name])
	require.NoError(t, err, "field %q", name)
	return b
}

// vectorFields are the fields SPEC.md defines for envelope vectors.
var vectorFields = map[string]bool{
	"expect": true, "comment": true, "key": true, "keyring": true, "key id": true, "purpose": true,
	"context": true, "nonce": true, "plaintext": true, "max size": true, "sealed": true,
}

func readVector(t *testing.T, path string) vectorFile {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	v := vectorFile{fields: map[string]string{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, ": ")
		if !ok {
			name, value, ok = strings.Cut(line, ":") // "field:" with an empty value
			require.True(t, ok, "bad line %q", line)
			require.Empty(t, value, "bad line %q", line)
		}
		require.True(t, vectorFields[name], "field %q is not one SPEC.md defines", name)
		_, dup := v.fields[name]
		require.False(t, dup, "field %q repeated", name)
		v.fields[name] = value
	}
	require.NoError(t, sc.Err())
	return v
}

func forEachVector(t *testing.T, f func(t *testing.T, v vectorFile)) {
	paths, err := filepath.Glob("testdata/vectors/*.txt")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(paths), 20, "vector files")
	for _, p := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(p), ".txt"), func(t *testing.T) {
			t.Parallel()
			f(t, readVector(t, p))
		})
	}
}

func TestVectors(t *testing.T) {
	seen := map[string]int{}
	var mu = make(chan struct{}, 1)
	forEachVector(t, func(t *testing.T, v vectorFile) {
		mu <- struct{}{}
		seen[v.fields["expect"]]++
		<-mu
		key, err := ParseKey(v.fields["key"])
		require.NoError(t, err)
		require.Equal(t, v.fields["key id"], key.ID().String(), "key ID against the vector's")
		ring := testRing(t, key)
		if rt, ok := v.fields["keyring"]; ok {
			ring, err = ParseKeyring(rt)
			require.NoError(t, err)
		}
		var opts SealerOptions
		if ms, ok := v.fields["max size"]; ok {
			opts.MaxSize, err = strconv.Atoi(ms)
			require.NoError(t, err)
		}
		s, err := NewSealer(ring, v.fields["purpose"], &opts)
		require.NoError(t, err)
		ctx := v.hex(t, "context")
		sealed := []byte(v.fields["sealed"])
		got, info, err := s.Open(nil, sealed, ctx)
		var want error
		switch v.fields["expect"] {
		case "success":
			pt := v.hex(t, "plaintext")
			require.NoError(t, err, "Open")
			// bytes.Equal, not require.Equal: an empty plaintext may open as nil.
			require.True(t, bytes.Equal(got, pt), "Open = %x, want %x", got, pt)
			require.Equal(t, key.ID(), info.KeyID, "OpenInfo = %+v", info)
			require.Equal(t, ring.Primary().ID() == key.ID(), info.Primary, "OpenInfo = %+v", info)
			// Sealing with the vector's nonce gives the same text, byte for byte.
			sk := testSealer(t, testRing(t, key), v.fields["purpose"])
			resealed, err := sk.seal(nil, pt, ctx, v.hex(t, "nonce"))
			require.NoError(t, err)
			require.Equal(t, string(sealed), string(resealed), "seal")
			assert.Len(t, sealed, SealedLen(len(pt)), "SealedLen(%d)", len(pt))
			return
		case "auth failure":
			want = ErrAuthFailed
		case "unknown key":
			want = ErrUnknownKey
		case "malformed":
			want = ErrMalformed
		case "too large":
			want = ErrTooLarge
		default:
			require.Failf(t, "unknown expect", "%q", v.fields["expect"])
		}
		require.ErrorIs(t, err, want, "Open error")
		assert.Nil(t, got, "failed Open returned bytes")
		assert.Equal(t, OpenInfo{}, info, "failed Open returned an OpenInfo")
	})
	t.Cleanup(func() {
		for _, e := range []string{"success", "auth failure", "unknown key", "malformed", "too large"} {
			assert.NotZero(t, seen[e], "no vector expects %q", e)
		}
	})
}
