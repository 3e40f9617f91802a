package sealed

import (
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
	require.NoError(b, err)
	ctx := []byte("__Host-session")
	for _, n := range benchSizes {
		pt := pattern(n)
		b.Run("size="+strconv.Itoa(n)+"/impl=envelope", func(b *testing.B) {
			dst := make([]byte, 0, SealedLen(n))
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Seal(dst[:0], pt, ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("size="+strconv.Itoa(n)+"/impl=raw", func(b *testing.B) {
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
	require.NoError(b, err)
	ctx := []byte("__Host-session")
	for _, n := range benchSizes {
		pt := pattern(n)
		b.Run("size="+strconv.Itoa(n)+"/impl=envelope", func(b *testing.B) {
			text, err := s.Seal(nil, pt, ctx)
			require.NoError(b, err)
			dst := make([]byte, 0, n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.Open(dst[:0], text, ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("size="+strconv.Itoa(n)+"/impl=raw", func(b *testing.B) {
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

// BenchmarkPaired measures the envelope and the raw limit in alternating
// batches inside one benchmark, so that load from other processes hits
// both alike, and reports their ratio (envelope time / raw time) as the
// "ratio" metric. Use it on a busy machine, where the separate benchmarks
// above drift.
func BenchmarkPaired(b *testing.B) {
	s := testSealer(b, testRing(b, testKey(b, 1), testKey(b, 2)), "cookie")
	raw, err := chacha20poly1305.NewX(pattern(KeySize))
	require.NoError(b, err)
	ctx := []byte("__Host-session")
	for _, n := range benchSizes {
		pt := pattern(n)
		text, _ := s.Seal(nil, pt, ctx)
		nonce := pattern(NonceSize)
		rawText := []byte(base64.RawURLEncoding.EncodeToString(raw.Seal(append([]byte(nil), nonce...), nonce, pt, ctx)))
		sealDst := make([]byte, 0, SealedLen(n))
		openDst := make([]byte, 0, n)
		buf := make([]byte, NonceSize+n+Overhead)
		rawDst := make([]byte, base64.RawURLEncoding.EncodedLen(len(buf)))

		envSeal := func(b *testing.B) {
			if _, err := s.Seal(sealDst[:0], pt, ctx); err != nil {
				b.Fatal(err)
			}
		}
		rawSeal := func(b *testing.B) {
			nonce := buf[:NonceSize]
			if _, err := rand.Read(nonce); err != nil {
				b.Fatal(err)
			}
			base64.RawURLEncoding.Encode(rawDst, raw.Seal(nonce, nonce, pt, ctx))
		}
		envOpen := func(b *testing.B) {
			if _, _, err := s.Open(openDst[:0], text, ctx); err != nil {
				b.Fatal(err)
			}
		}
		rawOpen := func(b *testing.B) {
			m, err := base64.RawURLEncoding.Decode(buf, rawText)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := raw.Open(openDst[:0], buf[:NonceSize], buf[NonceSize:m], ctx); err != nil {
				b.Fatal(err)
			}
		}
		for _, op := range []struct {
			name     string
			env, raw func(*testing.B)
		}{{"seal", envSeal, rawSeal}, {"open", envOpen, rawOpen}} {
			b.Run("op="+op.name+"/size="+strconv.Itoa(n), func(b *testing.B) {
				const batch = 32
				var envT, rawT time.Duration
				envMin, rawMin := time.Duration(1<<62), time.Duration(1<<62)
				b.ReportAllocs() // per op = per pair of batches: 2*batch calls
				for i := 0; b.Loop(); i++ {
					first, second, ft, st := op.env, op.raw, &envT, &rawT
					if i%2 == 1 {
						first, second, ft, st = op.raw, op.env, &rawT, &envT
					}
					t0 := time.Now()
					for j := 0; j < batch; j++ {
						first(b)
					}
					t1 := time.Now()
					for j := 0; j < batch; j++ {
						second(b)
					}
					d1, d2 := t1.Sub(t0), time.Since(t1)
					*ft += d1
					*st += d2
					if i%2 == 1 {
						d1, d2 = d2, d1
					}
					envMin, rawMin = min(envMin, d1), min(rawMin, d2)
				}
				b.ReportMetric(float64(envT.Nanoseconds())/float64(b.N*batch), "envelope-ns/op")
				b.ReportMetric(float64(rawT.Nanoseconds())/float64(b.N*batch), "raw-ns/op")
				b.ReportMetric(float64(envT)/float64(rawT), "ratio")
				// The fastest batch of each is the least disturbed by other
				// processes: on a busy machine its ratio is the steadier one.
				b.ReportMetric(float64(envMin.Nanoseconds())/batch, "envelope-min-ns/op")
				b.ReportMetric(float64(rawMin.Nanoseconds())/batch, "raw-min-ns/op")
				b.ReportMetric(float64(envMin)/float64(rawMin), "min-ratio")
			})
		}
	}
}
