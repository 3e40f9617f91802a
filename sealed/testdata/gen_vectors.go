//go:build ignore

// gen_vectors writes the known-answer vectors in vectors/ and the fuzz seed
// corpora in fuzz/. It implements the envelope from SPEC.md on its
// own (HKDF-SHA256, XChaCha20-Poly1305, base64url), without importing the
// sealed package, so the vectors check the package against the spec.
//
// Run from the sealed directory: go run ./testdata/gen_vectors.go
package main

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"
)

var enc = base64.RawURLEncoding

func hkdfSHA256(secret []byte, info string, n int) []byte {
	out := make([]byte, n)
	if _, err := io.ReadFull(hkdf.New(sha256.New, secret, nil, []byte(info)), out); err != nil {
		log.Fatal(err)
	}
	return out
}

type key struct{ secret []byte }

func secret(start byte) key {
	s := make([]byte, 32)
	for i := range s {
		s[i] = start + byte(i)
	}
	return key{s}
}

func (k key) id() []byte { return hkdfSHA256(k.secret, "sealedsession sealed v1 key id", 4) }

func (k key) text() string {
	return "ssk1_" + enc.EncodeToString(append(append([]byte(nil), k.secret...), k.id()...))
}

func seal(k key, purpose string, context, nonce, plaintext []byte) string {
	sub := hkdfSHA256(k.secret, "sealedsession sealed v1 subkey for purpose "+purpose, 32)
	aead, err := chacha20poly1305.NewX(sub)
	if err != nil {
		log.Fatal(err)
	}
	header := append([]byte{0x01}, k.id()...)
	aad := append(append([]byte(nil), header...), context...)
	env := append(header, nonce...)
	env = aead.Seal(env, nonce, plaintext, aad)
	return enc.EncodeToString(env)
}

type vector struct {
	name, expect, comment string
	key                   key
	keyring               []key // opens; empty means just key
	purpose               string
	context, nonce, pt    []byte
	maxSize               int
	sealed                string
}

func counting(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func modify(text string, f func(b []byte) []byte) string {
	b, err := enc.Strict().DecodeString(text)
	if err != nil {
		log.Fatal(err)
	}
	return enc.EncodeToString(f(b))
}

func main() {
	a, b, c := secret(0x00), secret(0x20), secret(0x40)
	cookie := []byte("__Host-session")
	nonce := counting(24, 0x70)
	payload := []byte(`{"user":"ada","cart":[1,2,3]}`)

	std := seal(a, "cookie", cookie, nonce, payload)
	vs := []vector{
		{name: "success_empty", comment: "empty plaintext: the smallest envelope (60 characters)", key: a, purpose: "cookie", context: cookie, nonce: nonce, pt: nil},
		{name: "success_short", key: a, purpose: "cookie", context: cookie, nonce: nonce, pt: payload},
		{name: "success_one_byte", key: a, purpose: "cookie", context: cookie, nonce: counting(24, 0), pt: []byte{0}},
		{name: "success_two_bytes", key: a, purpose: "cookie", context: cookie, nonce: counting(24, 1), pt: []byte{0xff, 0xfe}},
		{name: "success_empty_context", key: a, purpose: "cookie", context: nil, nonce: nonce, pt: payload},
		{name: "success_purpose_csrf", comment: "same key and nonce as success_short, other purpose: other subkey", key: a, purpose: "csrf", context: cookie, nonce: nonce, pt: payload},
		{name: "success_binary_context", key: b, purpose: "cookie", context: []byte{0, 1, 2, 0xff}, nonce: nonce, pt: counting(229, 0x80)},
		{name: "success_3000_bytes", key: b, purpose: "cookie", context: cookie, nonce: counting(24, 0xe0), pt: counting(3000, 3)},
		{name: "success_previous_key", comment: "sealed by a key that is no longer primary: opens, Primary is false", key: a, keyring: []key{c, a}, purpose: "cookie", context: cookie, nonce: nonce, pt: payload},
		{name: "success_max_size", comment: "exactly max size characters", key: a, purpose: "cookie", context: cookie, nonce: nonce, pt: counting(105, 0), maxSize: 200},

		{name: "auth_other_context", expect: "auth failure", comment: "sealed with context __Host-session", key: a, purpose: "cookie", context: []byte("__Host-sessioN"), sealed: std},
		{name: "auth_other_purpose", expect: "auth failure", comment: "sealed for purpose cookie", key: a, purpose: "csrf", context: cookie, sealed: std},
		{name: "auth_flipped_nonce", expect: "auth failure", key: a, purpose: "cookie", context: cookie, sealed: modify(std, func(b []byte) []byte { b[10] ^= 0x01; return b })},
		{name: "auth_flipped_ciphertext", expect: "auth failure", key: a, purpose: "cookie", context: cookie, sealed: modify(std, func(b []byte) []byte { b[29] ^= 0x80; return b })},
		{name: "auth_flipped_tag", expect: "auth failure", key: a, purpose: "cookie", context: cookie, sealed: modify(std, func(b []byte) []byte { b[len(b)-1] ^= 0x01; return b })},
		{name: "auth_truncated_tag", expect: "auth failure", comment: "last tag byte removed", key: a, purpose: "cookie", context: cookie, sealed: modify(std, func(b []byte) []byte { return b[:len(b)-1] })},
		{name: "auth_appended_byte", expect: "auth failure", key: a, purpose: "cookie", context: cookie, sealed: modify(std, func(b []byte) []byte { return append(b, 0) })},

		{name: "unknown_key", expect: "unknown key", comment: "sealed by key a, ring holds b and c only", key: a, keyring: []key{b, c}, purpose: "cookie", context: cookie, sealed: std},
		{name: "unknown_key_flipped_id", expect: "unknown key", key: a, purpose: "cookie", context: cookie, sealed: modify(std, func(b []byte) []byte { b[4] ^= 0x01; return b })},

		{name: "malformed_version_0", expect: "malformed", key: a, purpose: "cookie", context: cookie, sealed: modify(std, func(b []byte) []byte { b[0] = 0; return b })},
		{name: "malformed_version_2", expect: "malformed", key: a, purpose: "cookie", context: cookie, sealed: modify(std, func(b []byte) []byte { b[0] = 2; return b })},
		{name: "malformed_too_short", expect: "malformed", comment: "44 bytes: one short of the smallest envelope", key: a, purpose: "cookie", context: cookie, sealed: modify(std, func(b []byte) []byte { return b[:44] })},
		{name: "malformed_padding", expect: "malformed", key: a, purpose: "cookie", context: cookie, sealed: std + "="},
		{name: "malformed_std_alphabet", expect: "malformed", key: a, purpose: "cookie", context: cookie, sealed: std[:20] + "+" + std[21:]},
		{name: "malformed_length_1_mod_4", expect: "malformed", comment: "97 characters: no byte string encodes to a length of 1 mod 4", key: a, purpose: "cookie", context: cookie, sealed: std[:len(std)-2]},
		{name: "malformed_empty", expect: "malformed", key: a, purpose: "cookie", context: cookie, sealed: ""},
		{name: "malformed_space", expect: "malformed", key: a, purpose: "cookie", context: cookie, sealed: std[:30] + " " + std[31:]},

		{name: "too_large", expect: "too large", comment: "a valid envelope one character over max size", key: a, purpose: "cookie", context: cookie, maxSize: len(std) - 1, sealed: std},
		{name: "too_large_garbage", expect: "too large", comment: "length is checked before anything else", key: a, purpose: "cookie", context: cookie, maxSize: 60, sealed: strings.Repeat("!", 61)},
	}
	// A non-canonical final character: unused low bits set.
	short := seal(a, "cookie", cookie, nonce, []byte{1})
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", short[len(short)-1])
	vs = append(vs, vector{name: "malformed_noncanonical", expect: "malformed", comment: "the last character's unused bits are not zero", key: a, purpose: "cookie", context: cookie,
		sealed: short[:len(short)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1])})

	dir := "testdata/vectors"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	if len(std)%4 != 3 {
		log.Fatal("std has an unexpected length")
	}
	for _, v := range vs {
		if v.expect == "" {
			v.expect = "success"
			v.sealed = seal(v.key, v.purpose, v.context, v.nonce, v.pt)
			if v.maxSize != 0 && len(v.sealed) != v.maxSize {
				log.Fatalf("%s: %d characters, want %d", v.name, len(v.sealed), v.maxSize)
			}
		}
		var sb strings.Builder
		fmt.Fprintf(&sb, "expect: %s\n", v.expect)
		if v.comment != "" {
			fmt.Fprintf(&sb, "comment: %s\n", v.comment)
		}
		fmt.Fprintf(&sb, "key: %s\n", v.key.text())
		if len(v.keyring) > 0 {
			var ts []string
			for _, k := range v.keyring {
				ts = append(ts, k.text())
			}
			fmt.Fprintf(&sb, "keyring: %s\n", strings.Join(ts, ","))
		}
		fmt.Fprintf(&sb, "key id: %x\n", v.key.id())
		fmt.Fprintf(&sb, "purpose: %s\n", v.purpose)
		fmt.Fprintf(&sb, "context: %x\n", v.context)
		if v.expect == "success" {
			fmt.Fprintf(&sb, "nonce: %x\n", v.nonce)
			fmt.Fprintf(&sb, "plaintext: %x\n", v.pt)
		}
		if v.maxSize != 0 {
			fmt.Fprintf(&sb, "max size: %d\n", v.maxSize)
		}
		fmt.Fprintf(&sb, "sealed: %s\n", v.sealed)
		if err := os.WriteFile(filepath.Join(dir, v.name+".txt"), []byte(sb.String()), 0o644); err != nil {
			log.Fatal(err)
		}
	}

	// Fuzz seeds. FuzzOpen's ring is secret(0x01) then secret(0x02) (the
	// package's testKey(1), testKey(2)) with purpose "fuzz".
	k1, k2 := secret(0x01), secret(0x02)
	open := map[string][2][]byte{
		"sealed_primary":  {[]byte(seal(k1, "fuzz", []byte("ctx"), nonce, payload)), []byte("ctx")},
		"sealed_previous": {[]byte(seal(k2, "fuzz", []byte("ctx"), counting(24, 9), counting(40, 1))), []byte("ctx")},
		"sealed_empty":    {[]byte(seal(k1, "fuzz", nil, counting(24, 3), nil)), nil},
		"wrong_context":   {[]byte(seal(k1, "fuzz", []byte("a"), nonce, payload)), []byte("b")},
		"unknown_key":     {[]byte(std), cookie},
		"garbage":         {[]byte("not base64 at all!"), nil},
		"padding":         {[]byte(std + "=="), cookie},
		"newline":         {[]byte(std[:30] + "\n" + std[30:]), cookie},
	}
	writeCorpus("testdata/fuzz/FuzzOpen", open)
	rings := map[string][2][]byte{
		"one":        {[]byte(a.text())},
		"three":      {[]byte(a.text() + ", " + b.text() + " ,\t" + c.text())},
		"duplicate":  {[]byte(a.text() + "," + a.text())},
		"empty":      {[]byte("")},
		"commas":     {[]byte(",,")},
		"no_prefix":  {[]byte(a.text()[5:])},
		"truncated":  {[]byte(a.text()[:40])},
		"bad_base64": {[]byte(a.text()[:20] + "+" + a.text()[21:])},
	}
	writeStringCorpus("testdata/fuzz/FuzzParseKeyring", rings)
}

func writeCorpus(dir string, seeds map[string][2][]byte) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	for name, s := range seeds {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s[0])) + ")\n[]byte(" + strconv.Quote(string(s[1])) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

func writeStringCorpus(dir string, seeds map[string][2][]byte) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	for name, s := range seeds {
		body := "go test fuzz v1\nstring(" + strconv.Quote(string(s[0])) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
