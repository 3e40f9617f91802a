package codec

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

type cartItem struct {
	SKU        string
	Qty        int
	PriceCents int64
}

type profile struct {
	Name    string
	Age     int
	Tags    []string
	Address *address
	Prefs   map[string]bool
	Seen    time.Time
}

type address struct {
	Street string
	Zip    *string
}

func testHeader() Header {
	return Header{
		ID:         SessionID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		IssuedAt:   time.UnixMilli(1767225600000),
		LastSeen:   time.UnixMilli(1767227400123),
		Generation: 3,
		UserEpoch:  9,
		UserID:     "u-1842",
	}
}

// roundTrip stores val under a key, encodes and decodes the payload, and
// returns what a fresh Key of the same type reads back.
func roundTrip[T any](t *testing.T, val T) T {
	t.Helper()
	p := NewPayload(testHeader())
	k := NewKey[T]("v")
	if err := k.Set(p, val); err != nil {
		t.Fatalf("Set(%#v): %v", val, err)
	}
	b := p.AppendEncode(nil)
	if len(b) != p.EncodedLen() {
		t.Fatalf("EncodedLen %d, AppendEncode wrote %d", p.EncodedLen(), len(b))
	}
	q, err := Decode(b, nil)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	got, err := k.Lookup(q)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	return got
}

func checkRoundTrip[T any](t *testing.T, name string, val T) {
	t.Run(name, func(t *testing.T) {
		got := roundTrip(t, val)
		if !reflect.DeepEqual(got, val) {
			t.Fatalf("round trip: got %#v, want %#v", got, val)
		}
	})
}

func TestRoundTripTypes(t *testing.T) {
	zip := "SW1A 1AA"
	checkRoundTrip(t, "string", "héllo, wörld")
	checkRoundTrip(t, "empty string", "")
	checkRoundTrip(t, "int", -42)
	checkRoundTrip(t, "int64 min", int64(math.MinInt64))
	checkRoundTrip(t, "uint64 max", uint64(math.MaxUint64))
	checkRoundTrip(t, "uint8", uint8(200))
	checkRoundTrip(t, "float64", 3.141592653589793)
	checkRoundTrip(t, "float32", float32(0.1))
	checkRoundTrip(t, "bool true", true)
	checkRoundTrip(t, "bool false", false)
	checkRoundTrip(t, "bytes", []byte{0, 1, 2, 0xff})
	checkRoundTrip(t, "strings", []string{"admin", "editor"})
	checkRoundTrip(t, "empty slice", []string{})
	checkRoundTrip(t, "nil slice", []string(nil))
	checkRoundTrip(t, "ints", []int{1, -2, 3})
	checkRoundTrip(t, "map", map[string]int{"a": 1, "b": -2, "c": 300})
	checkRoundTrip(t, "map int keys", map[int]string{1: "one", -5: "minus five"})
	checkRoundTrip(t, "cart", []cartItem{{"SKU-1", 1, 1999}, {"SKU-2", 3, 550}})
	checkRoundTrip(t, "nested struct", profile{
		Name: "Ada", Age: 36, Tags: []string{"x"},
		Address: &address{Street: "1 Main St", Zip: &zip},
		Prefs:   map[string]bool{"dark": true},
		Seen:    time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
	})
	checkRoundTrip(t, "nil pointer", (*address)(nil))
	checkRoundTrip(t, "pointer", &address{Street: "x"})
	checkRoundTrip(t, "zero time", time.Time{})
	checkRoundTrip(t, "time UTC nanos", time.Date(2026, 11, 27, 8, 7, 11, 123456789, time.UTC))
	checkRoundTrip(t, "time fixed zone", time.Date(2026, 6, 1, 12, 0, 0, 1, time.FixedZone("", 2*3600+30*60)))
	checkRoundTrip(t, "any map", map[string]any{"a": "b"})

	t.Run("time local", func(t *testing.T) {
		now := time.Now().Round(0) // drop the monotonic reading
		got := roundTrip(t, now)
		if !got.Equal(now) || got.Nanosecond() != now.Nanosecond() {
			t.Fatalf("got %v, want %v", got, now)
		}
		_, off1 := got.Zone()
		_, off2 := now.Zone()
		if off1 != off2 {
			t.Fatalf("offset %d, want %d", off1, off2)
		}
	})
	t.Run("time UTC-ness", func(t *testing.T) {
		got := roundTrip(t, time.Unix(1, 5).UTC())
		if got.Location() != time.UTC {
			t.Fatalf("location %v, want UTC", got.Location())
		}
	})
}

func TestHeaderRoundTrip(t *testing.T) {
	h := testHeader()
	h.Flags = 0x80
	p := NewPayload(h)
	q, err := Decode(p.AppendEncode(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := *q.Header()
	if got.Version != Version || got.Flags != 0x80 || got.ID != h.ID || !got.IssuedAt.Equal(h.IssuedAt) ||
		!got.LastSeen.Equal(h.LastSeen) || got.Generation != 3 || got.UserEpoch != 9 || got.UserID != "u-1842" {
		t.Fatalf("header round trip: got %+v, want %+v", got, h)
	}
}

// TestLazyDecode proves values are decoded only when asked for: a value
// whose raw bytes are not CBOR at all does not stop Decode, the hook sees
// only the value asked for, and the malformed value is written back as is.
func TestLazyDecode(t *testing.T) {
	p := NewPayload(testHeader())
	locale := NewKey[string]("locale")
	if err := locale.Set(p, "en-GB"); err != nil {
		t.Fatal(err)
	}
	p.setRaw("broken", []byte{0xff})                 // a lone break byte: malformed CBOR
	p.setRaw("cart", []byte{0x9f, 0x01, 0x02, 0x1c}) // indefinite array + reserved info: malformed
	b := p.AppendEncode(nil)

	var decoded []string
	unmarshalHook = func(name string) { decoded = append(decoded, name) }
	defer func() { unmarshalHook = nil }()

	q, err := Decode(b, nil)
	if err != nil {
		t.Fatalf("Decode with malformed unread values: %v", err)
	}
	if len(decoded) != 0 {
		t.Fatalf("Decode decoded values %v", decoded)
	}
	if v, ok := locale.Get(q); !ok || v != "en-GB" {
		t.Fatalf("Get locale = %q, %v", v, ok)
	}
	if !reflect.DeepEqual(decoded, []string{"locale"}) {
		t.Fatalf("decoded %v, want only [locale]", decoded)
	}
	if out := q.AppendEncode(nil); !bytes.Equal(out, b) {
		t.Fatalf("re-encoding changed the bytes:\n got %x\nwant %x", out, b)
	}
	_, err = NewKey[string]("broken").Lookup(q)
	var te *TypeError
	if !errors.As(err, &te) || !errors.Is(err, ErrType) || te.Name != "broken" {
		t.Fatalf("Lookup(broken) err = %v, want *TypeError", err)
	}
}

func TestDecodeCopiesInput(t *testing.T) {
	p := NewPayload(testHeader())
	k := NewKey[[]string]("roles")
	if err := k.Set(p, []string{"admin", "editor"}); err != nil {
		t.Fatal(err)
	}
	b := p.AppendEncode(nil)
	want := bytes.Clone(b)
	q, err := Decode(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0xAA
	}
	if got, ok := k.Get(q); !ok || !reflect.DeepEqual(got, []string{"admin", "editor"}) {
		t.Fatalf("after overwriting the input: %v %v", got, ok)
	}
	if !reflect.DeepEqual(q.Names(), []string{"roles"}) {
		t.Fatalf("names %v", q.Names())
	}
	if out := q.AppendEncode(nil); !bytes.Equal(out, want) {
		t.Fatalf("re-encode after overwriting input differs")
	}
}

func TestTypeMismatch(t *testing.T) {
	p := NewPayload(testHeader())
	if err := NewKey[string]("x").Set(p, "not a number"); err != nil {
		t.Fatal(err)
	}
	ik := NewKey[int]("x")
	v, ok := ik.Get(p)
	if ok || v != 0 {
		t.Fatalf("Get = %v, %v; want 0, false", v, ok)
	}
	_, err := ik.Lookup(p)
	var te *TypeError
	if !errors.As(err, &te) || te.Type != "int" || !errors.Is(err, ErrType) || errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup err = %#v", err)
	}
	// A struct decoded partially before failing still returns the zero value.
	if err := NewKey[map[string]any]("c").Set(p, map[string]any{"SKU": "a", "Qty": "many"}); err != nil {
		t.Fatal(err)
	}
	got, err := NewKey[cartItem]("c").Lookup(p)
	if err == nil || got != (cartItem{}) {
		t.Fatalf("partial decode: %+v, %v", got, err)
	}
}

func TestNotFound(t *testing.T) {
	p := NewPayload(testHeader())
	k := NewKey[string]("missing")
	if _, err := k.Lookup(p); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup err = %v", err)
	}
	if v, ok := k.Get(p); ok || v != "" {
		t.Fatalf("Get = %q, %v", v, ok)
	}
	if _, ok := k.Get(nil); ok {
		t.Fatal("Get(nil) found a value")
	}
	if err := k.Set(nil, "x"); err == nil {
		t.Fatal("Set(nil) succeeded")
	}
	var zero Key[string]
	if err := zero.Set(p, "x"); err == nil {
		t.Fatal("Set with the zero Key succeeded")
	}
	if _, err := zero.Lookup(p); !errors.Is(err, ErrNotFound) {
		t.Fatalf("zero Key Lookup: %v", err)
	}
}

func TestSetUnencodable(t *testing.T) {
	p := NewPayload(testHeader())
	err := NewKey[chan int]("c").Set(p, make(chan int))
	if !errors.Is(err, ErrType) {
		t.Fatalf("Set(chan) err = %v, want ErrType", err)
	}
	// The message says what failed: encoding, not decoding.
	if msg := err.Error(); !strings.Contains(msg, `set "c": a chan int cannot be encoded`) || strings.Contains(msg, "decode") {
		t.Fatalf("Set(chan) err = %q, want it to say the chan cannot be encoded", msg)
	}
	if p.Dirty() || p.Len() != 0 {
		t.Fatal("failed Set changed the payload")
	}
}

func TestDuplicateMapKeysRejected(t *testing.T) {
	p := NewPayload(testHeader())
	// {"a": 1, "a": 2}
	p.setRaw("m", []byte{0xa2, 0x61, 'a', 0x01, 0x61, 'a', 0x02})
	_, err := NewKey[map[string]int]("m").Lookup(p)
	if !errors.Is(err, ErrType) {
		t.Fatalf("duplicate map keys: err = %v", err)
	}
	if _, err := NewKey[any]("m").Lookup(p); err == nil {
		t.Fatal("duplicate map keys decoded into any")
	}
}

func TestTrailingBytesInValueRejected(t *testing.T) {
	p := NewPayload(testHeader())
	p.setRaw("n", []byte{0x01, 0x02}) // two CBOR items
	if _, err := NewKey[int]("n").Lookup(p); !errors.Is(err, ErrType) {
		t.Fatalf("err = %v", err)
	}
}

func TestDirty(t *testing.T) {
	k := NewKey[string]("k")
	steps := []struct {
		name  string
		do    func(p *Payload)
		dirty bool
	}{
		{"nothing", func(p *Payload) {}, false},
		{"get", func(p *Payload) { k.Get(p) }, false},
		{"raw and names", func(p *Payload) { p.Raw("k"); p.Names() }, false},
		{"set same bytes", func(p *Payload) { _ = k.Set(p, "v") }, false},
		{"set new value", func(p *Payload) { _ = k.Set(p, "w") }, true},
		{"set new name", func(p *Payload) { _ = NewKey[int]("n").Set(p, 1) }, true},
		{"delete absent", func(p *Payload) { NewKey[int]("absent").Delete(p) }, false},
		{"delete", func(p *Payload) { k.Delete(p) }, true},
		{"clear", func(p *Payload) { p.ClearValues() }, true},
		{"add flash", func(p *Payload) { p.AddFlash("hi") }, true},
		{"flashes empty", func(p *Payload) { p.Flashes() }, false},
		{"mark", func(p *Payload) { p.MarkDirty() }, true},
		{"header change only", func(p *Payload) { p.Header().LastSeen = time.Now() }, false},
	}
	base := NewPayload(testHeader())
	if err := k.Set(base, "v"); err != nil {
		t.Fatal(err)
	}
	b := base.AppendEncode(nil)
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			p, err := Decode(b, nil)
			if err != nil {
				t.Fatal(err)
			}
			if p.Dirty() {
				t.Fatal("dirty right after Decode")
			}
			s.do(p)
			if p.Dirty() != s.dirty {
				t.Fatalf("Dirty() = %v, want %v", p.Dirty(), s.dirty)
			}
		})
	}
	t.Run("clear empty", func(t *testing.T) {
		p := NewPayload(Header{})
		p.ClearValues()
		if p.Dirty() {
			t.Fatal("clearing an empty payload made it dirty")
		}
	})
	t.Run("new payload", func(t *testing.T) {
		if NewPayload(testHeader()).Dirty() {
			t.Fatal("NewPayload is dirty")
		}
	})
	t.Run("flashes read", func(t *testing.T) {
		p := NewPayload(Header{})
		p.AddFlash("x")
		q, err := Decode(p.AppendEncode(nil), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := q.Flashes(); len(got) != 1 || !q.Dirty() {
			t.Fatalf("Flashes = %v, dirty %v", got, q.Dirty())
		}
	})
}

func TestFlashes(t *testing.T) {
	p := NewPayload(testHeader())
	p.AddFlash("Saved successfully")
	p.AddFlash("Second")
	if !reflect.DeepEqual(p.Names(), []string{"_flash"}) {
		t.Fatalf("names %v", p.Names())
	}
	q, err := Decode(p.AppendEncode(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Flashes(); !reflect.DeepEqual(got, []string{"Saved successfully", "Second"}) {
		t.Fatalf("Flashes = %v", got)
	}
	if got := q.Flashes(); got != nil {
		t.Fatalf("second Flashes = %v, want nil", got)
	}
	if q.Len() != 0 {
		t.Fatal("flash value not removed")
	}
	// A corrupt flash value is dropped, not returned, and never panics.
	q.setRaw(flashName, []byte{0x01})
	if got := q.Flashes(); got != nil {
		t.Fatalf("corrupt flashes = %v", got)
	}
	if q.Len() != 0 {
		t.Fatal("corrupt flash value kept")
	}
	// Keys cannot reach the reserved name.
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("NewKey(_flash) did not panic")
			}
		}()
		NewKey[[]string]("_flash")
	}()
}

func TestNewKeyNames(t *testing.T) {
	for _, name := range []string{"a", "cart", "user.id", "x-y_z:1", strings.Repeat("n", MaxNameLen), "~!"} {
		if NewKey[int](name).Name() != name {
			t.Fatalf("name %q not kept", name)
		}
	}
	bad := map[string]string{
		"":                                "empty",
		strings.Repeat("n", MaxNameLen+1): "65 bytes",
		"_flash":                          "reserved",
		"_x":                              "reserved",
		"with space":                      "0x20",
		"tab\t":                           "0x09",
		"nul\x00":                         "0x00",
		"del\x7f":                         "0x7f",
		"é":                               "0xc3",
	}
	for name, want := range bad {
		func() {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if !strings.HasPrefix(msg, "codec: invalid key name ") || !strings.Contains(msg, want) {
					t.Errorf("NewKey(%q) panic = %v, want message containing %q", name, r, want)
				}
			}()
			NewKey[int](name)
		}()
	}
}

func TestEncodedLenExact(t *testing.T) {
	p := NewPayload(testHeader())
	check := func(stage string) {
		t.Helper()
		if got, want := p.EncodedLen(), len(p.AppendEncode(nil)); got != want {
			t.Fatalf("%s: EncodedLen %d, AppendEncode %d", stage, got, want)
		}
		prefix := []byte("prefix")
		out := p.AppendEncode(prefix)
		if len(out)-len(prefix) != p.EncodedLen() || !bytes.HasPrefix(out, []byte("prefix")) {
			t.Fatalf("%s: AppendEncode with a prefix", stage)
		}
	}
	check("empty")
	for i := 0; i < 20; i++ { // more than the inline capacity
		name := string(rune('a'+i)) + "key"
		if err := NewKey[string](name).Set(p, strings.Repeat("v", i*40)); err != nil {
			t.Fatal(err)
		}
		check(name)
	}
	if err := NewKey[[]byte]("big").Set(p, make([]byte, 20000)); err != nil { // 3-byte length
		t.Fatal(err)
	}
	check("big value")
	p.AddFlash("f")
	check("flash")
	NewKey[string]("ckey").Delete(p)
	check("delete")
	p.Header().UserID = strings.Repeat("u", 255)
	check("long user")
	q, err := Decode(p.AppendEncode(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(q.Names(), p.Names()) {
		t.Fatalf("names %v != %v", q.Names(), p.Names())
	}
}

func TestEncodeUserIDTooLong(t *testing.T) {
	p := NewPayload(Header{UserID: strings.Repeat("u", 256)})
	if _, err := p.Encode(nil); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Encode err = %v", err)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "user ID") {
			t.Fatalf("AppendEncode panic = %v", r)
		}
	}()
	p.AppendEncode(nil)
}

func TestUnsupportedVersion(t *testing.T) {
	b := NewPayload(testHeader()).AppendEncode(nil)
	for _, v := range []byte{0, 2, 0xff} {
		b[0] = v
		_, err := Decode(b, nil)
		var ve *VersionError
		if !errors.Is(err, ErrUnsupportedVersion) || !errors.As(err, &ve) || ve.Version != v {
			t.Fatalf("version %d: err = %v", v, err)
		}
	}
}

func TestMalformedTruncations(t *testing.T) {
	p := NewPayload(testHeader())
	_ = NewKey[[]string]("roles").Set(p, []string{"admin", "editor"})
	_ = NewKey[string]("locale").Set(p, "en-GB")
	b := p.AppendEncode(nil)
	for n := 0; n < len(b); n++ {
		if _, err := Decode(b[:n], nil); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d bytes: err = %v, want ErrMalformed", n, err)
		}
	}
	if _, err := Decode(append(bytes.Clone(b), 0), nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: err = %v", err)
	}
}

func nested(depth int) any {
	var v any = 1
	for i := 0; i < depth; i++ {
		v = []any{v}
	}
	return v
}

func TestLimits(t *testing.T) {
	t.Run("size", func(t *testing.T) {
		p := NewPayload(testHeader())
		_ = NewKey[string]("s").Set(p, strings.Repeat("x", 100))
		b := p.AppendEncode(nil)
		if _, err := Decode(b, &Limits{MaxSize: len(b)}); err != nil {
			t.Fatalf("at the limit: %v", err)
		}
		if _, err := Decode(b, &Limits{MaxSize: len(b) - 1}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("over MaxSize: err = %v", err)
		}
		huge := make([]byte, DefaultMaxSize+1)
		huge[0] = Version
		if _, err := Decode(huge, nil); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("over the default MaxSize: err = %v", err)
		}
		// Checked before any work: even a bad version gives ErrTooLarge.
		huge[0] = 9
		if _, err := Decode(huge, nil); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("over MaxSize with a bad version: err = %v", err)
		}
		if err := NewKey[[]byte]("big").Set(p, make([]byte, DefaultMaxSize)); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Set over MaxSize: err = %v", err)
		}
	})
	t.Run("depth", func(t *testing.T) {
		p := NewPayload(testHeader())
		k := NewKey[any]("deep")
		if err := k.Set(p, nested(DefaultMaxDepth+1)); !errors.Is(err, ErrLimit) {
			t.Fatalf("Set too deep: err = %v", err)
		}
		if err := k.Set(p, nested(DefaultMaxDepth-1)); err != nil {
			t.Fatalf("Set at the limit: %v", err)
		}
		q, err := Decode(p.AppendEncode(nil), &Limits{MaxDepth: 8})
		if err != nil {
			t.Fatal(err)
		}
		_, err = k.Lookup(q)
		if !errors.Is(err, ErrLimit) || !errors.Is(err, ErrType) {
			t.Fatalf("Lookup too deep: err = %v", err)
		}
		if q.Limits().MaxDepth != 8 {
			t.Fatalf("Limits() = %+v", q.Limits())
		}
	})
	t.Run("items", func(t *testing.T) {
		p := NewPayload(testHeader())
		arr := NewKey[[]int]("arr")
		if err := arr.Set(p, make([]int, DefaultMaxItems+1)); !errors.Is(err, ErrLimit) {
			t.Fatalf("Set too many items: err = %v", err)
		}
		if err := arr.Set(p, make([]int, 100)); err != nil {
			t.Fatal(err)
		}
		m := NewKey[map[int]int]("map")
		big := map[int]int{}
		for i := 0; i < 50; i++ {
			big[i] = i
		}
		if err := m.Set(p, big); err != nil {
			t.Fatal(err)
		}
		q, err := Decode(p.AppendEncode(nil), &Limits{MaxItems: 20})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := arr.Lookup(q); !errors.Is(err, ErrLimit) {
			t.Fatalf("array over MaxItems: err = %v", err)
		}
		if _, err := m.Lookup(q); !errors.Is(err, ErrLimit) {
			t.Fatalf("map over MaxItems: err = %v", err)
		}
	})
	t.Run("value count", func(t *testing.T) {
		p := NewPayload(testHeader())
		for i := 0; i < 17; i++ {
			_ = NewKey[int]("k"+string(rune('a'+i))).Set(p, i)
		}
		b := p.AppendEncode(nil)
		if _, err := Decode(b, &Limits{MaxItems: 16}); !errors.Is(err, ErrLimit) {
			t.Fatalf("17 values, MaxItems 16: err = %v", err)
		}
		if _, err := Decode(b, &Limits{MaxItems: 17}); err != nil {
			t.Fatalf("17 values, MaxItems 17: %v", err)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		got := (&Limits{MaxDepth: 1, MaxItems: 2}).resolve()
		want := Limits{MaxDepth: minDepth, MaxItems: minItems, MaxSize: DefaultMaxSize}
		if got != want {
			t.Fatalf("resolve = %+v, want %+v", got, want)
		}
	})
}

func TestRawAndNamesAreCopies(t *testing.T) {
	p := NewPayload(testHeader())
	k := NewKey[string]("s")
	_ = k.Set(p, "abc")
	raw, ok := p.Raw("s")
	if !ok || !bytes.Equal(raw, []byte{0x63, 'a', 'b', 'c'}) {
		t.Fatalf("Raw = %x, %v", raw, ok)
	}
	raw[1] = 'z'
	if v, _ := k.Get(p); v != "abc" {
		t.Fatalf("modifying Raw's result changed the value to %q", v)
	}
	if _, ok := p.Raw("nope"); ok {
		t.Fatal("Raw of absent name")
	}
}

func TestSessionID(t *testing.T) {
	a, err := NewSessionID()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSessionID()
	if a == b || a.IsZero() {
		t.Fatal("session IDs not random")
	}
	c, err := ParseSessionID(a.String())
	if err != nil || c != a {
		t.Fatalf("ParseSessionID: %v", err)
	}
	if len(a.Tag()) != 8 || strings.Contains(a.String(), a.Tag()) {
		t.Fatalf("Tag %q", a.Tag())
	}
}

func TestKeyString(t *testing.T) {
	if got := NewKey[[]cartItem]("cart").String(); got != `codec.Key[[]codec.cartItem]("cart")` {
		t.Fatalf("String = %s", got)
	}
}

func TestNewReservedKey(t *testing.T) {
	k := NewReservedKey[int]("_bind")
	p := NewPayload(Header{})
	if err := k.Set(p, 7); err != nil {
		t.Fatal(err)
	}
	if v, ok := k.Get(p); !ok || v != 7 {
		t.Fatalf("got %v %v", v, ok)
	}
	for _, bad := range []string{"bind", "_", "_flash", "_a b"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewReservedKey(%q) did not panic", bad)
				}
			}()
			NewReservedKey[int](bad)
		}()
	}
}
