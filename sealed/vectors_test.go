package sealed

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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
	if err != nil {
		t.Fatalf("field %q: %v", name, err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
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
			if !ok || value != "" {
				t.Fatalf("bad line %q", line)
			}
		}
		if !vectorFields[name] {
			t.Fatalf("field %q is not one SPEC.md defines", name)
		}
		if _, dup := v.fields[name]; dup {
			t.Fatalf("field %q repeated", name)
		}
		v.fields[name] = value
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return v
}

func forEachVector(t *testing.T, f func(t *testing.T, v vectorFile)) {
	paths, err := filepath.Glob("testdata/vectors/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 20 {
		t.Fatalf("found %d vector files, want at least 20", len(paths))
	}
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
		if err != nil {
			t.Fatal(err)
		}
		if key.ID().String() != v.fields["key id"] {
			t.Fatalf("key ID %s, vector says %s", key.ID(), v.fields["key id"])
		}
		ring := testRing(t, key)
		if rt, ok := v.fields["keyring"]; ok {
			if ring, err = ParseKeyring(rt); err != nil {
				t.Fatal(err)
			}
		}
		var opts SealerOptions
		if ms, ok := v.fields["max size"]; ok {
			if opts.MaxSize, err = strconv.Atoi(ms); err != nil {
				t.Fatal(err)
			}
		}
		s, err := NewSealer(ring, v.fields["purpose"], &opts)
		if err != nil {
			t.Fatal(err)
		}
		ctx := v.hex(t, "context")
		sealed := []byte(v.fields["sealed"])
		got, info, err := s.Open(nil, sealed, ctx)
		var want error
		switch v.fields["expect"] {
		case "success":
			pt := v.hex(t, "plaintext")
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, pt) {
				t.Fatalf("Open = %x, want %x", got, pt)
			}
			if info.KeyID != key.ID() || info.Primary != (ring.Primary().ID() == key.ID()) {
				t.Fatalf("OpenInfo = %+v", info)
			}
			// Sealing with the vector's nonce gives the same text, byte for byte.
			sk := testSealer(t, testRing(t, key), v.fields["purpose"])
			resealed, err := sk.seal(nil, pt, ctx, v.hex(t, "nonce"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(resealed, sealed) {
				t.Fatalf("seal:\n got %s\nwant %s", resealed, sealed)
			}
			if len(sealed) != SealedLen(len(pt)) {
				t.Fatalf("SealedLen(%d) = %d, text has %d", len(pt), SealedLen(len(pt)), len(sealed))
			}
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
			t.Fatalf("unknown expect %q", v.fields["expect"])
		}
		if !errors.Is(err, want) {
			t.Fatalf("Open error = %v, want %v", err, want)
		}
		if got != nil || info != (OpenInfo{}) {
			t.Fatalf("failed Open returned %q, %+v", got, info)
		}
	})
	t.Cleanup(func() {
		for _, e := range []string{"success", "auth failure", "unknown key", "malformed", "too large"} {
			if seen[e] == 0 {
				t.Errorf("no vector expects %q", e)
			}
		}
	})
}
