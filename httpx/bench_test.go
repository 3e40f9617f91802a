package httpx_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
)

// The typical payload of DESIGN.md.
type benchItem struct {
	SKU        string
	Qty        int
	PriceCents int64
}

var (
	rolesKey  = codec.NewKey[[]string]("roles")
	csrfKey   = codec.NewKey[[]byte]("csrf")
	cartKey   = codec.NewKey[[]benchItem]("cart")
	localeKey = codec.NewKey[string]("locale")
)

func fillTypical(s *httpx.Session) {
	_ = rolesKey.Set(s, []string{"admin", "editor"})
	csrf := make([]byte, 32)
	rand.Read(csrf)
	_ = csrfKey.Set(s, csrf)
	s.AddFlash("Saved successfully")
	_ = cartKey.Set(s, []benchItem{{"SKU-1001", 1, 1999}, {"SKU-2002", 2, 4550}, {"SKU-3003", 1, 12000}})
	_ = localeKey.Set(s, "en-GB")
}

// benchCookie makes a logged-in typical session and returns its Cookie header.
func benchCookie(b *testing.B, m *httpx.Manager) string {
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		_ = s.Login("u-1842")
		fillTypical(s)
	}))
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("GET", "/", nil))
	c := rr.Result().Cookies()
	require.Len(b, c, 1, "cookies")
	return c[0].Name + "=" + c[0].Value
}

// discard is a ResponseWriter that keeps only its header map, reset per request.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func BenchmarkMiddleware(b *testing.B) {
	m, err := httpx.New(httpx.Config{Keys: newRing(b)})
	require.NoError(b, err)
	cookie := benchCookie(b, m)
	val := cookie[len("__Host-session="):]
	b.ReportMetric(float64(len(cookie)), "cookie-bytes")

	run := func(b *testing.B, h http.Handler) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Cookie", cookie)
		w := &discard{h: make(http.Header)}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			clear(w.h)
			h.ServeHTTP(w, req)
		}
	}
	b.Run("ReadOnly", func(b *testing.B) {
		run(b, m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if l, ok := localeKey.Get(httpx.FromContext(r.Context())); !ok || l != "en-GB" {
				b.Fatal("locale")
			}
		})))
	})
	b.Run("ReadModifyWrite", func(b *testing.B) {
		run(b, m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := httpx.FromContext(r.Context())
			cart, _ := cartKey.Get(s)
			cart[0].Qty++
			_ = cartKey.Set(s, cart)
		})))
	})

	// The raw limit: XChaCha20-Poly1305 and base64 of the same bytes.
	key := make([]byte, 32)
	aead, _ := chacha20poly1305.NewX(key)
	sealedBytes, _ := base64.RawURLEncoding.DecodeString(val)
	nonce := make([]byte, 24)
	pt := make([]byte, len(sealedBytes)-24-16)
	ct := aead.Seal(nil, nonce, pt, nil)
	text := base64.RawURLEncoding.EncodeToString(append(nonce, ct...))
	raw := make([]byte, len(text))
	out := make([]byte, 0, len(text))
	b.Run("RawOpen", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			n, _ := base64.RawURLEncoding.Decode(raw, []byte(text))
			if _, err := aead.Open(out[:0], raw[:24], raw[24:n], nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("RawOpenSeal", func(b *testing.B) {
		b.ReportAllocs()
		enc := make([]byte, len(text)+8)
		for i := 0; i < b.N; i++ {
			n, _ := base64.RawURLEncoding.Decode(raw, []byte(text))
			p, err := aead.Open(out[:0], raw[:24], raw[24:n], nil)
			if err != nil {
				b.Fatal(err)
			}
			rand.Read(nonce)
			c := aead.Seal(raw[:24], nonce, p, nil)
			base64.RawURLEncoding.Encode(enc, c)
		}
	})
}
