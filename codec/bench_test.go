package codec_test

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sealedsession/sealedsession/codec"
)

// The benchmark payloads: the typical session of the design document and a
// large one with a 40-item cart. The same values are encoded three ways:
// this package; encoding/gob of a map[interface{}]interface{} as
// gorilla/securecookie and gorilla/sessions do (flashes under "_flash" as
// []interface{}); and encoding/json of a map[string]any. This package keeps
// the user ID in the header; gob and JSON keep it as a "uid" value.

var (
	rolesKey  = codec.NewKey[[]string]("roles")
	csrfKey   = codec.NewKey[[]byte]("csrf")
	benchCart = codec.NewKey[[]CartItem]("cart")
	// strictCart reads the same value as benchCart, strictly.
	strictCart = codec.NewKey[[]CartItem]("cart", codec.Strict())
	localeKey  = codec.NewKey[string]("locale")
)

type benchCase struct {
	name  string
	codec []byte
	gob   []byte
	json  []byte
	gmap  map[any]any
	jmap  map[string]any
}

func benchValues(items int) (roles []string, csrf []byte, cart []CartItem) {
	roles = []string{"admin", "editor"}
	csrf = make([]byte, 32)
	for i := range csrf {
		csrf[i] = byte(0xa5 ^ i*7)
	}
	for i := 0; i < items; i++ {
		cart = append(cart, CartItem{SKU: fmt.Sprintf("SKU-%04d", 1001+i), Qty: 1 + i%3, PriceCents: int64(199 + 1000*i)})
	}
	return
}

func makeBenchCase(name string, items int) benchCase {
	roles, csrf, cart := benchValues(items)
	now := time.UnixMilli(1767225600000)
	p := codec.NewPayload(codec.Header{ID: codec.SessionID{1, 2, 3}, IssuedAt: now, LastSeen: now.Add(time.Minute), Generation: 2, UserEpoch: 1, UserID: "u-1842"})
	// The user ID lives in the header (Header.UserID), not in a value.
	must(rolesKey.Set(p, roles))
	must(csrfKey.Set(p, csrf))
	p.AddFlash("Saved successfully")
	must(benchCart.Set(p, cart))
	must(localeKey.Set(p, "en-GB"))

	gm := map[any]any{"uid": "u-1842", "roles": roles, "csrf": csrf, "_flash": []any{"Saved successfully"}, "cart": cart, "locale": "en-GB"}
	var gb bytes.Buffer
	must(gob.NewEncoder(&gb).Encode(gm))
	jm := map[string]any{"uid": "u-1842", "roles": roles, "csrf": csrf, "_flash": []any{"Saved successfully"}, "cart": cart, "locale": "en-GB"}
	jb, err := json.Marshal(jm)
	must(err)
	return benchCase{name: name, codec: p.AppendEncode(nil), gob: gb.Bytes(), json: jb, gmap: gm, jmap: jm}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// benchCases registers the gob types before making the gob encodings.
var benchCases = func() []benchCase {
	gob.Register([]CartItem(nil))
	gob.Register([]any(nil))
	return []benchCase{makeBenchCase("typical", 3), makeBenchCase("large", 40)}
}()

// TestBenchmarkPayloadSizes records the encoded sizes and holds the size
// target: the typical payload in at most 60% of gob's bytes.
func TestBenchmarkPayloadSizes(t *testing.T) {
	for _, c := range benchCases {
		t.Logf("%-8s codec %5d B  gob %5d B  json %5d B  codec/gob %.0f%%", c.name, len(c.codec), len(c.gob), len(c.json), 100*float64(len(c.codec))/float64(len(c.gob)))
	}
	// Struct field names are repeated per item in CBOR; integer keys
	// (cbor:"1,keyasint") are what an application can use for long lists.
	type compactItem struct {
		SKU        string `cbor:"1,keyasint"`
		Qty        int    `cbor:"2,keyasint"`
		PriceCents int64  `cbor:"3,keyasint"`
	}
	for _, c := range benchCases {
		p, err := codec.Decode(c.codec, nil)
		must(err)
		var items []compactItem
		for _, it := range mustCart(p) {
			items = append(items, compactItem(it))
		}
		must(codec.NewKey[[]compactItem]("cart").Set(p, items))
		t.Logf("%-8s codec with keyasint cart items: %d B (%.0f%% of gob)", c.name, p.EncodedLen(), 100*float64(p.EncodedLen())/float64(len(c.gob)))
	}
	c := benchCases[0]
	assert.LessOrEqual(t, len(c.codec)*100, len(c.gob)*60, "typical payload %d B, more than 60%% of gob's %d B", len(c.codec), len(c.gob))
}

func BenchmarkEncode(b *testing.B) {
	for _, c := range benchCases {
		p, err := codec.Decode(c.codec, nil)
		must(err)
		b.Run(c.name+"/codec", func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(c.codec)), "payload-B")
			buf := make([]byte, 0, 8192)
			for b.Loop() {
				p.Header().LastSeen = p.Header().LastSeen.Add(time.Millisecond)
				buf = p.AppendEncode(buf[:0])
			}
		})
		b.Run(c.name+"/codec-set", func(b *testing.B) {
			// Every value re-encoded from Go values, then the payload.
			roles, csrf, cart := benchValues(len(mustCart(p)))
			b.ReportAllocs()
			buf := make([]byte, 0, 8192)
			for b.Loop() {
				q := codec.NewPayload(*p.Header())
				must(rolesKey.Set(q, roles))
				must(csrfKey.Set(q, csrf))
				q.AddFlash("Saved successfully")
				must(benchCart.Set(q, cart))
				must(localeKey.Set(q, "en-GB"))
				buf = q.AppendEncode(buf[:0])
			}
		})
		b.Run(c.name+"/gob", func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(c.gob)), "payload-B")
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				must(gob.NewEncoder(&buf).Encode(c.gmap))
			}
		})
		b.Run(c.name+"/json", func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(c.json)), "payload-B")
			for b.Loop() {
				_, err := json.Marshal(c.jmap)
				must(err)
			}
		})
	}
}

func mustCart(p *codec.Payload) []CartItem {
	cart, err := benchCart.Lookup(p)
	must(err)
	return cart
}

func BenchmarkDecodeHeader(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name+"/codec", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h, _, err := codec.DecodeHeader(c.codec)
				if err != nil || h.UserID == "" {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/codec-index", func(b *testing.B) {
			// Header plus the index of raw values (codec.Decode).
			b.ReportAllocs()
			for b.Loop() {
				if _, err := codec.Decode(c.codec, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeOne reads the header and one value (the CSRF token). gob
// and JSON cannot decode part of a payload, so they decode all of it.
func BenchmarkDecodeOne(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name+"/codec", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := codec.Decode(c.codec, nil)
				if err != nil {
					b.Fatal(err)
				}
				if v, ok := csrfKey.Get(p); !ok || len(v) != 32 {
					b.Fatal("csrf")
				}
			}
		})
		b.Run(c.name+"/gob", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var m map[any]any
				must(gob.NewDecoder(bytes.NewReader(c.gob)).Decode(&m))
				if v, ok := m["csrf"].([]byte); !ok || len(v) != 32 {
					b.Fatal("csrf")
				}
			}
		})
		b.Run(c.name+"/json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var m map[string]json.RawMessage
				must(json.Unmarshal(c.json, &m))
				var v []byte
				must(json.Unmarshal(m["csrf"], &v))
				if len(v) != 32 {
					b.Fatal("csrf")
				}
			}
		})
	}
}

type jsonSession struct {
	UID    string     `json:"uid"`
	Roles  []string   `json:"roles"`
	CSRF   []byte     `json:"csrf"`
	Flash  []string   `json:"_flash"`
	Cart   []CartItem `json:"cart"`
	Locale string     `json:"locale"`
}

// BenchmarkDecodeAll decodes the header and every value into typed Go values.
func BenchmarkDecodeAll(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name+"/codec", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := codec.Decode(c.codec, nil)
				if err != nil {
					b.Fatal(err)
				}
				ok1 := p.Header().UserID != ""
				_, ok2 := rolesKey.Get(p)
				_, ok3 := csrfKey.Get(p)
				_, ok4 := benchCart.Get(p)
				_, ok5 := localeKey.Get(p)
				f := p.Flashes()
				if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || len(f) != 1 {
					b.Fatal("missing value")
				}
			}
		})
		b.Run(c.name+"/codec-strict", func(b *testing.B) {
			// The same with the cart (the one struct value) read strictly.
			b.ReportAllocs()
			for b.Loop() {
				p, err := codec.Decode(c.codec, nil)
				if err != nil {
					b.Fatal(err)
				}
				ok1 := p.Header().UserID != ""
				_, ok2 := rolesKey.Get(p)
				_, ok3 := csrfKey.Get(p)
				_, ok4 := strictCart.Get(p)
				_, ok5 := localeKey.Get(p)
				f := p.Flashes()
				if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || len(f) != 1 {
					b.Fatal("missing value")
				}
			}
		})
		b.Run(c.name+"/gob", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var m map[any]any
				must(gob.NewDecoder(bytes.NewReader(c.gob)).Decode(&m))
				if _, ok := m["cart"].([]CartItem); !ok {
					b.Fatal("cart")
				}
			}
		})
		b.Run(c.name+"/json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var s jsonSession
				must(json.Unmarshal(c.json, &s))
				if len(s.Cart) == 0 {
					b.Fatal("cart")
				}
			}
		})
	}
}
