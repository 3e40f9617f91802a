package reliability

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/codec"
	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/internal/wire"
	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning"
)

// fuzzNow is the fixed clock of FuzzSealedPayload, so seeds stay current.
var fuzzNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// reasonRecorder keeps the last rejection reason it saw.
type reasonRecorder struct {
	mu   sync.Mutex
	last error
}

func (r *reasonRecorder) Observe(_ context.Context, e httpx.Event) {
	if e.Kind == httpx.EventRejected {
		r.mu.Lock()
		r.last = e.Reason
		r.mu.Unlock()
	}
}

func (r *reasonRecorder) take() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.last
	r.last = nil
	return err
}

// FuzzSealedPayload fuzzes the part of the request path that a forged
// envelope never reaches: arbitrary plaintext is sealed with the Manager's
// own key, purpose and per-chunk-count context (as if the attacker knew the
// key, or the server had a bug writing it), split into 1-4 chunk cookies and
// sent through the middleware. The payload decoder, the header checks and
// the typed value reads then see arbitrary bytes. Nothing may panic, every
// answer is 200, and a refusal always carries a typed reason (never
// "other").
func FuzzSealedPayload(f *testing.F) {
	key, err := sealed.NewKey([]byte(strings.Repeat("k", sealed.KeySize)))
	require.NoError(f, err)
	ring, err := sealed.NewKeyring(key)
	require.NoError(f, err)
	rec := &reasonRecorder{}
	m, err := httpx.New(httpx.Config{Keys: ring, Observer: rec, Policy: versioning.Policy{Now: func() time.Time { return fuzzNow }}})
	require.NoError(f, err)
	sealer, err := sealed.NewSealer(ring, wire.SealPurpose, nil)
	require.NoError(f, err)
	cartKey := codec.NewKey[[]cartLine]("cart")
	for i, user := range []string{"", "alice", strings.Repeat("u", 255)} {
		id, _ := codec.NewSessionID()
		p := codec.NewPayload(codec.Header{Version: codec.Version, ID: id, IssuedAt: fuzzNow.Add(-time.Minute), LastSeen: fuzzNow.Add(-time.Second), Generation: uint32(i), UserID: user})
		_ = cartKey.Set(p, []cartLine{{SKU: "tea", Qty: 2}})
		p.AddFlash("hi")
		f.Add(p.AppendEncode(nil), uint8(i))
	}
	f.Add([]byte{}, uint8(0))
	f.Add([]byte{codec.Version}, uint8(3))

	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpx.FromContext(r.Context())
		_, _ = cartKey.Get(s)
		_, _ = codec.NewKey[map[string]any]("cart").Lookup(s)
		_ = s.Flashes()
		_ = s.UserID()
		if s.Authenticated() {
			_ = cartKey.Set(s, []cartLine{{SKU: "x", Qty: 1}})
		}
	}))
	f.Fuzz(func(t *testing.T, plaintext []byte, chunks uint8) {
		n := 1 + int(chunks%4)
		ctx := wire.CookieContext(m.CookieName(), n)
		text, err := sealer.Seal(nil, plaintext, ctx)
		if err != nil {
			return // too large to seal: never reaches a client
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Cookie", chunkCookies(m.CookieName(), string(text), n))
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, req)
		if rr.Code != http.StatusOK {
			t.Fatalf("status %d", rr.Code)
		}
		if reason := rec.take(); reason != nil && httpx.ReasonLabel(reason) == "other" {
			t.Fatalf("refused without a typed reason: %v", reason)
		}
	})
}

// cartLine mirrors the demo's cart item closely enough for the fuzz seeds.
type cartLine struct {
	SKU string `cbor:"sku"`
	Qty int    `cbor:"qty"`
}

// chunkCookies splits text into n chunk cookies named like the middleware
// names them (name, name-1, name-2, ...) and returns a Cookie header.
func chunkCookies(name, text string, n int) string {
	if n <= 1 {
		return name + "=" + text
	}
	var parts []string
	size := (len(text) + n - 1) / n
	for i := 0; i < n; i++ {
		lo, hi := min(i*size, len(text)), min((i+1)*size, len(text))
		parts = append(parts, wire.ChunkName(name, i)+"="+text[lo:hi])
	}
	return strings.Join(parts, "; ")
}
