package codec

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// benchItem is the benchmark module's cart item: integer keys.
type benchItem struct {
	SKU        string `cbor:"1,keyasint"`
	Qty        int    `cbor:"2,keyasint"`
	PriceCents int64  `cbor:"3,keyasint"`
}

// benchProfile is a struct of strings, named fields.
type benchProfile struct {
	Name    string
	Email   string   `json:"email"`
	Locale  string   `cbor:"locale"`
	Roles   []string `cbor:"roles"`
	Visits  uint32
	Enabled bool
}

var (
	benchItems   = []benchItem{{"SKU-1001", 1, 199}, {"SKU-1002", 2, 1199}, {"SKU-1003", 3, 2199}}
	benchProf    = benchProfile{Name: "Ada Lovelace", Email: "ada@example.com", Locale: "en-GB", Roles: []string{"admin", "editor"}, Visits: 1842, Enabled: true}
	benchItemKey = NewKey[[]benchItem]("cart")
	benchProfKey = NewKey[benchProfile]("profile")
	benchPrefs   = map[string]string{"theme": "dark", "lang": "en-GB", "tz": "Europe/London", "density": "compact"}
	benchPrefKey = NewKey[map[string]string]("prefs")
)

func benchGetSet[T any](b *testing.B, k Key[T], v T) {
	p := NewPayload(Header{})
	require.NoError(b, k.Set(p, v))
	b.Run("Get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := k.Get(p); !ok {
				b.Fatal("not found")
			}
		}
	})
	b.Run("Set", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := k.Set(p, v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkKeyComposite measures Key.Get and Key.Set of composite values.
func BenchmarkKeyComposite(b *testing.B) {
	b.Run("cart", func(b *testing.B) { benchGetSet(b, benchItemKey, benchItems) })
	b.Run("profile", func(b *testing.B) { benchGetSet(b, benchProfKey, benchProf) })
	b.Run("prefs", func(b *testing.B) { benchGetSet(b, benchPrefKey, benchPrefs) })
}
