package sealed

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzOpen checks that Open never panics on any input, that what it opens
// was sealed by a key of the ring (re-sealing with the envelope's own key
// and nonce gives back the very same text), and that every failure is one
// of the documented sentinels.
func FuzzOpen(f *testing.F) {
	k1, k2 := testKey(f, 1), testKey(f, 2)
	ring := testRing(f, k1, k2)
	s, err := NewSealer(ring, "fuzz", &SealerOptions{MaxSize: 4096})
	require.NoError(f, err)
	byKey := map[KeyID]*Sealer{
		k1.ID(): testSealer(f, testRing(f, k1), "fuzz"),
		k2.ID(): testSealer(f, testRing(f, k2), "fuzz"),
	}
	for _, n := range []int{0, 1, 2, 3, 100} {
		text, err := s.Seal(nil, pattern(n), []byte("ctx"))
		require.NoError(f, err)
		f.Add(text, []byte("ctx"))
	}
	f.Fuzz(func(t *testing.T, text, context []byte) {
		pt, info, err := s.Open(nil, text, context)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrAuthFailed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("undocumented error %v", err)
			}
			if pt != nil {
				t.Fatal("failed Open returned bytes")
			}
			return
		}
		if len(pt) != OpenedLen(len(text)) || SealedLen(len(pt)) != len(text) {
			t.Fatalf("opened %d bytes from %d characters", len(pt), len(text))
		}
		if info.KeyID != headerKeyID(text) || info.Primary != (info.KeyID == k1.ID()) {
			t.Fatalf("OpenInfo %+v for key %s", info, headerKeyID(text))
		}
		var raw [30]byte
		if _, err := b64.Decode(raw[:], text[:40]); err != nil {
			t.Fatal(err)
		}
		again, err := byKey[info.KeyID].seal(nil, pt, context, raw[5:])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, text) {
			t.Fatalf("re-sealing gave another text:\n%s\n%s", again, text)
		}
	})
}

// FuzzParseKeyring checks that ParseKeyring never panics, fails only with
// its sentinels, and that what it accepts exports to a text that parses
// back to the same keys.
func FuzzParseKeyring(f *testing.F) {
	f.Add(testKey(f, 1).Export() + "," + testKey(f, 2).Export())
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseKeyring(s)
		if err != nil {
			if !errors.Is(err, ErrEmptyKeyring) && !errors.Is(err, ErrInvalidKey) && !errors.Is(err, ErrDuplicateKey) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		r2, err := ParseKeyring(r.Export())
		if err != nil {
			t.Fatal(err)
		}
		a, b := r.Keys(), r2.Keys()
		if len(a) != len(b) {
			t.Fatal("round trip changed the number of keys")
		}
		for i := range a {
			if !a[i].equal(b[i]) {
				t.Fatalf("round trip changed key %d", i+1)
			}
			if k, err := ParseKey(a[i].Export()); err != nil || !k.equal(a[i]) {
				t.Fatalf("ParseKey(Export()) of key %d: %v", i+1, err)
			}
		}
	})
}

// TestFuzzSeedsOpen makes sure the seed corpus exercises the success path
// of FuzzOpen: its sealed_* seeds must open with the fuzz ring.
func TestFuzzSeedsOpen(t *testing.T) {
	s := testSealer(t, testRing(t, testKey(t, 1), testKey(t, 2)), "fuzz")
	for name, primary := range map[string]bool{"sealed_primary": true, "sealed_previous": false, "sealed_empty": true} {
		b, err := os.ReadFile(filepath.Join("testdata/fuzz/FuzzOpen", name))
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		require.Len(t, lines, 3, "%s: not a corpus file", name)
		require.Equal(t, "go test fuzz v1", lines[0], "%s: not a corpus file", name)
		var args [2][]byte
		for i, l := range lines[1:] {
			q, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(l, "[]byte("), ")"))
			require.NoError(t, err, name)
			args[i] = []byte(q)
		}
		_, info, err := s.Open(nil, args[0], args[1])
		require.NoError(t, err, name)
		require.Equal(t, primary, info.Primary, "%s: %+v", name, info)
	}
}
