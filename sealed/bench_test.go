package sealed

import (
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

var benchSizes = []int{64, 256, 1024, 4000}

// The raw limit: XChaCha20-Poly1305 (chacha20poly1305.NewX) on the same
// plaintext and context, with a random nonce from crypto/rand, and
// base64.RawURLEncoding of nonce || ciphertext || tag, into caller buffers.
// The envelope adds only its 5-byte header, the key lookup and the
// canonical checks.

func BenchmarkSeal(b *testing.B) {
	s := testSealer(b, testRing(b, testKey(b, 1), testKey(b, 2)), "cookie")
	raw, err := chacha20poly1305.NewX(pattern(KeySize))
	if err != nil {
		b.Fatal(err)
	}
	ctx := []byte("__Host-session")
	for _, n := range benchSizes {
		pt := pattern(n)
		b.Run(strconv.Itoa(n)+"/envelope", func(b *testing.B) {
			dst := make([]byte, 0, SealedLen(n))
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Seal(dst[:0], pt, ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(strconv.Itoa(n)+"/raw", func(b *testing.B) {
			buf := make([]byte, 0, NonceSize+n+Overhead)
			dst := make([]byte, base64.RawURLEncoding.EncodedLen(NonceSize+n+Overhead))
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				nonce := buf[:NonceSize]
				if _, err := rand.Read(nonce); err != nil {
					b.Fatal(err)
				}
				out := raw.Seal(nonce, nonce, pt, ctx)
				base64.RawURLEncoding.Encode(dst, out)
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	s := testSealer(b, testRing(b, testKey(b, 1), testKey(b, 2)), "cookie")
	raw, err := chacha20poly1305.NewX(pattern(KeySize))
	if err != nil {
		b.Fatal(err)
	}
	ctx := []byte("__Host-session")
	for _, n := range benchSizes {
		pt := pattern(n)
		b.Run(strconv.Itoa(n)+"/envelope", func(b *testing.B) {
			text, err := s.Seal(nil, pt, ctx)
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]byte, 0, n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.Open(dst[:0], text, ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(strconv.Itoa(n)+"/raw", func(b *testing.B) {
			nonce := pattern(NonceSize)
			text := base64.RawURLEncoding.EncodeToString(raw.Seal(append([]byte(nil), nonce...), nonce, pt, ctx))
			bin := make([]byte, base64.RawURLEncoding.DecodedLen(len(text)))
			dst := make([]byte, 0, n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				m, err := base64.RawURLEncoding.Decode(bin, []byte(text))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := raw.Open(dst[:0], bin[:NonceSize], bin[NonceSize:m], ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
