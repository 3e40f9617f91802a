package sealed

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestKeyTextRoundTrip(t *testing.T) {
	for i := 0; i < 20; i++ {
		k, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		text := k.Export()
		if len(text) != keyTextLen || keyTextLen != 53 || !strings.HasPrefix(text, KeyPrefix) {
			t.Fatalf("Export() has length %d", len(text))
		}
		k2, err := ParseKey("  " + text + "\n")
		if err != nil {
			t.Fatal(err)
		}
		if !k.equal(k2) || k2.ID() != k.ID() {
			t.Fatal("ParseKey(Export()) is another key")
		}
	}
	a, _ := GenerateKey()
	b, _ := GenerateKey()
	if a.equal(b) {
		t.Fatal("GenerateKey returned the same secret twice")
	}
}

func TestKeyIDString(t *testing.T) {
	for _, tc := range []struct {
		id   KeyID
		want string
	}{{0, "00000000"}, {0x1a2b3c4d, "1a2b3c4d"}, {0xffffffff, "ffffffff"}, {0x10, "00000010"}} {
		if got := tc.id.String(); got != tc.want {
			t.Errorf("KeyID(%#x).String() = %q, want %q", uint32(tc.id), got, tc.want)
		}
	}
	// The key ID is a function of the secret alone.
	a, b, c := testKey(t, 7), testKey(t, 7), testKey(t, 8)
	if a == b || a.ID() != b.ID() || a.ID() == c.ID() {
		t.Fatal("key IDs are not derived from the secret")
	}
}

func TestNewKeyCopiesSecret(t *testing.T) {
	s := make([]byte, KeySize)
	k, err := NewKey(s)
	if err != nil {
		t.Fatal(err)
	}
	id := k.ID()
	s[0] = 1
	k2, _ := NewKey(make([]byte, KeySize))
	if !k.equal(k2) || k.ID() != id {
		t.Fatal("NewKey kept a reference to the caller's slice")
	}
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewKey(make([]byte, n)); !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), fmt.Sprint(n)) {
			t.Errorf("NewKey(%d bytes) = %v", n, err)
		}
	}
}

func assertNoSecret(t *testing.T, what, s string, keys ...*Key) {
	t.Helper()
	for _, k := range keys {
		for _, f := range secretFragments(k) {
			if strings.Contains(s, f) {
				t.Fatalf("%s %q contains key material %q", what, s, f)
			}
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
		if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseKey(%q) = %v, want ErrInvalidKey mentioning %q", tc.in, err, tc.want)
			continue
		}
		assertNoSecret(t, "error", err.Error(), k)
	}
}

func TestParseKeyring(t *testing.T) {
	k1, k2, k3 := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	text := k1.Export() + ", " + k2.Export() + " ,\t" + k3.Export() + "\n"
	r, err := ParseKeyring(text)
	if err != nil {
		t.Fatal(err)
	}
	ks := r.Keys()
	if len(ks) != 3 || !ks[0].equal(k1) || !ks[1].equal(k2) || !ks[2].equal(k3) || !r.Primary().equal(k1) {
		t.Fatalf("ParseKeyring: %v", r)
	}
	r2, err := ParseKeyring(r.Export())
	if err != nil || r2.Export() != r.Export() || r.Export() != k1.Export()+","+k2.Export()+","+k3.Export() {
		t.Fatalf("Export round trip: %v", err)
	}
	ks[0] = nil // Keys returns a copy
	if r.Primary() == nil {
		t.Fatal("Keys() exposed the ring's slice")
	}

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
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseKeyring(%q) = %v, want %v mentioning %q", tc.in, err, tc.is, tc.want)
			continue
		}
		assertNoSecret(t, "error", err.Error(), k1, k2, k3)
	}
	if _, err := NewKeyring(nil); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("NewKeyring(nil) = %v", err)
	}
	if _, err := NewKeyring(k1, k2, nil); !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), "position 3") {
		t.Errorf("NewKeyring(k1, k2, nil) = %v", err)
	}
	if _, err := NewKeyring(k1, k2, k1); !errors.Is(err, ErrDuplicateKey) {
		t.Errorf("NewKeyring(k1, k2, k1) = %v", err)
	}
}

// TestDerivationExample pins the intermediate values that SPEC.md
// gives as a worked example.
func TestDerivationExample(t *testing.T) {
	k := testKey(t, 0)
	if k.ID() != 0x18b3ff8b {
		t.Fatalf("key ID = %s, spec says 18b3ff8b", k.ID())
	}
	if got := k.Export(); got != "ssk1_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8Ys_-L" {
		t.Fatalf("text form = %s", got)
	}
	sub := deriveSubkey(k.bytes()[:], "cookie")
	if got := hex.EncodeToString(sub[:]); got != "3d55c6f3a0af6669355dd8cdce17d80abf102b8be1fa764d60550a2293ad958a" {
		t.Fatalf("subkey = %s", got)
	}
}
