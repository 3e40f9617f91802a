package sealed

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// secretFragments returns substrings that would betray a key's secret in
// a message: short windows of the secret in every form a formatter could
// produce (raw bytes, hex in both cases and with spaces, decimal and Go
// syntax byte lists, %q escapes, standard and URL base64 with and without
// padding) and of the key's "ssk1_" text form.
func secretFragments(k *Key) []string {
	sec := k.bytes()[:]
	var frags []string
	window := func(s string, n int) {
		for i := 0; i+n <= len(s); i++ {
			frags = append(frags, s[i:i+n])
		}
	}
	window(string(sec), 8)
	window(hex.EncodeToString(sec), 8)
	window(strings.ToUpper(hex.EncodeToString(sec)), 8)
	window(fmt.Sprintf("% x", sec), 11)
	window(fmt.Sprintf("% X", sec), 11)
	window(strings.Trim(fmt.Sprint(sec), "[]"), 11)               // "160 161 162"
	window(strings.Trim(fmt.Sprintf("%#v", sec), "[]byte{}"), 16) // "0xa0, 0xa1, 0xa2"
	window(strconv.Quote(string(sec)), 12)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		window(enc.EncodeToString(sec), 6)
	}
	window(k.Export()[len(KeyPrefix):], 6)
	return frags
}

// TestSecretFragmentsFindLeaks checks the checker: each way of printing
// the secret is caught, so that a test that passes means no leak.
func TestSecretFragmentsFindLeaks(t *testing.T) {
	k := testKey(t, 0xa0)
	sec := k.bytes()[:]
	leaks := []string{
		string(sec[3:12]),
		fmt.Sprintf("%x", sec[10:14]),
		fmt.Sprintf("%X", sec[10:14]),
		fmt.Sprintf("% x", sec[1:5]),
		fmt.Sprint(sec[5:9]),
		fmt.Sprint(*k.secret),
		fmt.Sprintf("%#v", sec[2:6]),
		fmt.Sprintf("%q", sec[7:11]),
		base64.StdEncoding.EncodeToString(sec[6:12]),
		base64.RawURLEncoding.EncodeToString(sec),
		k.Export(),
		k.Export()[20:30],
	}
	for _, leak := range leaks {
		found := false
		for _, f := range secretFragments(k) {
			if strings.Contains("x"+leak+"x", f) {
				found = true
				break
			}
		}
		assert.True(t, found, "secretFragments misses %q", leak)
	}
}

// allVerbs is every fmt verb, and a few flag and width combinations.
var allVerbs = []string{
	"%v", "%+v", "%#v", "%s", "%q", "%#q", "%+q", "%x", "%X", "% x", "%#x", "%d", "%+d",
	"%o", "%O", "%b", "%c", "%U", "%e", "%E", "%f", "%F", "%g", "%G", "%t", "%w", "%z",
	"%T", "%p", "%10s", "%-30v", "%.3s", "%08x",
}

func TestKeyAndRingPrintAsIDUnderEveryVerb(t *testing.T) {
	gen, err := GenerateKey()
	require.NoError(t, err)
	k, k2 := testKey(t, 0xa0), testKey(t, 0xd0)
	r := testRing(t, k, k2, gen)
	s := testSealer(t, r, "cookie")
	keys := []*Key{k, k2, gen}

	for _, key := range keys {
		want := "sealed.Key(" + key.ID().String() + ")"
		for _, v := range []any{key, *key} {
			for _, verb := range allVerbs {
				got := fmt.Sprintf(verb, v)
				assertNoSecret(t, fmt.Sprintf("%T under %s", v, verb), got, keys...)
				switch verb {
				case "%T", "%p", "%w":
					// fmt answers these itself, without asking the
					// Formatter (%w with a non-error is a bad verb, for
					// which fmt walks the value): assertNoSecret covers them.
				case "%10s": // shorter than the text: no padding
					assert.Equal(t, want, got, "%T under %s", v, verb)
				case "%-30v":
					assert.Equal(t, want+strings.Repeat(" ", 30-len(want)), got, "%T under %s, padded to 30", v, verb)
				default:
					assert.Equal(t, want, got, "%T under %s", v, verb)
				}
			}
		}
		assert.Equal(t, "    "+want+"|", fmt.Sprintf("%24v|", key), "width 24")
		assert.Equal(t, want, key.String(), "String")
		assert.Equal(t, want, key.GoString(), "GoString")
		assert.Equal(t, want, (*key).String(), "String of the value")
	}

	wantRing := "sealed.Keyring[" + k.ID().String() + "* " + k2.ID().String() + " " + gen.ID().String() + "]"
	for _, verb := range allVerbs {
		got := fmt.Sprintf(verb, r)
		assertNoSecret(t, "ring under "+verb, got, keys...)
		switch verb {
		case "%T", "%p", "%w":
		case "%-30v":
			assert.Equal(t, wantRing, strings.TrimRight(got, " "), "ring under %s", verb)
		default:
			assert.Equal(t, wantRing, got, "ring under %s", verb)
		}
	}

	// Keys where fmt can call their methods (exported fields, slices,
	// maps, interfaces) and where it cannot (unexported fields, which it
	// walks itself, dereferencing pointers to arrays for verbs a pointer
	// does not support): no secret either way.
	type exported struct {
		K    *Key
		KV   Key
		Ring *Keyring
		S    *Sealer
		Any  any
	}
	type unexported struct {
		k    *Key
		kv   Key
		ring *Keyring
		s    *Sealer
		any  any
		ks   []Key
	}
	values := []any{
		[]*Key{k, k2}, []Key{*k, *k2}, map[string]*Key{"k": k}, map[Key]int{*k: 1},
		[2]Key{*k, *gen}, s, exported{},
		exported{k, *k, r, s, *k2}, &exported{k, *k, r, s, k2},
		unexported{k, *k, r, s, *k2, []Key{*gen}}, &unexported{k, *k, r, s, k2, []Key{*gen}},
		struct{ inner unexported }{unexported{k, *k, r, s, gen, nil}},
	}
	for i, v := range values {
		for _, verb := range allVerbs {
			assertNoSecret(t, fmt.Sprintf("value %d (%T) under %s", i, v, verb), fmt.Sprintf(verb, v), keys...)
		}
	}
	assert.Equal(t, "[sealed.Key("+k.ID().String()+")]", fmt.Sprint([]Key{*k}), "[]Key")

	// Nil and zero values print without panicking.
	var nilKey *Key
	var nilRing *Keyring
	for _, verb := range allVerbs {
		if verb == "%T" || verb == "%p" || verb == "%w" {
			continue
		}
		assert.Contains(t, fmt.Sprintf(verb, nilKey), "nil", "nil *Key under %s", verb)
		assert.Contains(t, fmt.Sprintf(verb, nilRing), "sealed.Keyring(nil)", "nil *Keyring under %s", verb)
	}
	assert.Equal(t, "sealed.Key(00000000)", fmt.Sprint(Key{}), "zero Key")
}
