package codec

import (
	"bytes"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	require.NoError(t, k.Set(p, val), "Set(%#v)", val)
	b := p.AppendEncode(nil)
	require.Len(t, b, p.EncodedLen(), "AppendEncode against EncodedLen")
	q, err := Decode(b, nil)
	require.NoError(t, err, "Decode")
	got, err := k.Lookup(q)
	require.NoError(t, err, "Lookup")
	return got
}

func checkRoundTrip[T any](t *testing.T, name string, val T) {
	t.Run(name, func(t *testing.T) {
		got := roundTrip(t, val)
		assert.Equal(t, val, got, "round trip")
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
		require.True(t, got.Equal(now), "got %v, want %v", got, now)
		require.Equal(t, now.Nanosecond(), got.Nanosecond(), "got %v, want %v", got, now)
		_, off1 := got.Zone()
		_, off2 := now.Zone()
		assert.Equal(t, off2, off1, "offset")
	})
	t.Run("time UTC-ness", func(t *testing.T) {
		got := roundTrip(t, time.Unix(1, 5).UTC())
		assert.Same(t, time.UTC, got.Location(), "location %v, want UTC", got.Location())
	})
}

func TestHeaderRoundTrip(t *testing.T) {
	h := testHeader()
	h.Flags = 0x80
	p := NewPayload(h)
	q, err := Decode(p.AppendEncode(nil), nil)
	require.NoError(t, err)
	got := *q.Header()
	require.Equal(t, uint8(Version), got.Version, "header round trip: version")
	require.Equal(t, uint8(0x80), got.Flags, "header round trip: flags")
	require.Equal(t, h.ID, got.ID, "header round trip: ID")
	require.WithinDuration(t, h.IssuedAt, got.IssuedAt, 0, "header round trip: issued-at")
	require.WithinDuration(t, h.LastSeen, got.LastSeen, 0, "header round trip: last-seen")
	require.Equal(t, uint32(3), got.Generation, "header round trip: generation")
	require.Equal(t, uint64(9), got.UserEpoch, "header round trip: user epoch")
	require.Equal(t, "u-1842", got.UserID, "header round trip: user ID")
}

// counted is a value type that counts its decodes (through the CBOR
// library's Unmarshaler hook, which every non-scalar decode goes through).
type counted struct{ S string }

var countedDecodes atomic.Int64

func (c *counted) UnmarshalCBOR(b []byte) error {
	countedDecodes.Add(1)
	var s string
	if err := cbor.Unmarshal(b, &s); err != nil {
		return err
	}
	c.S = s
	return nil
}

func (c counted) MarshalCBOR() ([]byte, error) { return cbor.Marshal(c.S) }

// TestLazyDecode proves values are decoded only when asked for: a value
// whose raw bytes are not CBOR at all does not stop Decode, Decode decodes
// no value, a Get decodes only the value asked for, and the malformed
// value is written back as is.
func TestLazyDecode(t *testing.T) {
	p := NewPayload(testHeader())
	locale := NewKey[counted]("locale")
	other := NewKey[counted]("other")
	require.NoError(t, locale.Set(p, counted{"en-GB"}))
	require.NoError(t, other.Set(p, counted{"x"}))
	p.setRaw("broken", []byte{0xff})                 // a lone break byte: malformed CBOR
	p.setRaw("cart", []byte{0x9f, 0x01, 0x02, 0x1c}) // indefinite array + reserved info: malformed
	b := p.AppendEncode(nil)

	before := countedDecodes.Load()
	q, err := Decode(b, nil)
	require.NoError(t, err, "Decode with malformed unread values")
	require.Equal(t, before, countedDecodes.Load(), "Decode decoded values")
	v, ok := locale.Get(q)
	require.True(t, ok, "Get locale")
	require.Equal(t, counted{"en-GB"}, v, "Get locale")
	require.Equal(t, before+1, countedDecodes.Load(), "one Get decoded more than its value")
	require.Equal(t, b, q.AppendEncode(nil), "re-encoding changed the bytes")
	_, err = NewKey[string]("broken").Lookup(q)
	var te *TypeError
	require.ErrorAs(t, err, &te, "Lookup(broken)")
	assert.ErrorIs(t, err, ErrType, "Lookup(broken)")
	assert.Equal(t, "broken", te.Name, "Lookup(broken)")
}

func TestDecodeCopiesInput(t *testing.T) {
	p := NewPayload(testHeader())
	k := NewKey[[]string]("roles")
	require.NoError(t, k.Set(p, []string{"admin", "editor"}))
	b := p.AppendEncode(nil)
	want := bytes.Clone(b)
	q, err := Decode(b, nil)
	require.NoError(t, err)
	for i := range b {
		b[i] = 0xAA
	}
	got, ok := k.Get(q)
	require.True(t, ok, "after overwriting the input")
	require.Equal(t, []string{"admin", "editor"}, got, "after overwriting the input")
	require.Equal(t, []string{"roles"}, q.Names(), "names")
	assert.Equal(t, want, q.AppendEncode(nil), "re-encode after overwriting input differs")
}

func TestTypeMismatch(t *testing.T) {
	p := NewPayload(testHeader())
	require.NoError(t, NewKey[string]("x").Set(p, "not a number"))
	ik := NewKey[int]("x")
	v, ok := ik.Get(p)
	require.False(t, ok, "Get")
	require.Equal(t, 0, v, "Get")
	_, err := ik.Lookup(p)
	var te *TypeError
	require.ErrorAs(t, err, &te, "Lookup")
	require.Equal(t, "int", te.Type, "Lookup err = %#v", err)
	require.ErrorIs(t, err, ErrType, "Lookup")
	require.NotErrorIs(t, err, ErrNotFound, "Lookup")
	// A struct decoded partially before failing still returns the zero value.
	require.NoError(t, NewKey[map[string]any]("c").Set(p, map[string]any{"SKU": "a", "Qty": "many"}))
	got, err := NewKey[cartItem]("c").Lookup(p)
	assert.Error(t, err, "partial decode")
	assert.Equal(t, cartItem{}, got, "partial decode")
}

func TestNotFound(t *testing.T) {
	p := NewPayload(testHeader())
	k := NewKey[string]("missing")
	_, err := k.Lookup(p)
	require.ErrorIs(t, err, ErrNotFound, "Lookup")
	v, ok := k.Get(p)
	require.False(t, ok, "Get")
	require.Equal(t, "", v, "Get")
	_, ok = k.Get(nil)
	require.False(t, ok, "Get(nil) found a value")
	require.Error(t, k.Set(nil, "x"), "Set(nil) succeeded")
	var zero Key[string]
	require.Error(t, zero.Set(p, "x"), "Set with the zero Key succeeded")
	_, err = zero.Lookup(p)
	assert.ErrorIs(t, err, ErrNotFound, "zero Key Lookup")
}

func TestSetUnencodable(t *testing.T) {
	p := NewPayload(testHeader())
	err := NewKey[chan int]("c").Set(p, make(chan int))
	require.ErrorIs(t, err, ErrType, "Set(chan)")
	// The message says what failed: encoding, not decoding.
	require.Contains(t, err.Error(), `set "c": a chan int cannot be encoded`, "Set(chan)")
	require.NotContains(t, err.Error(), "decode", "Set(chan)")
	assert.False(t, p.Dirty(), "failed Set changed the payload")
	assert.Equal(t, 0, p.Len(), "failed Set changed the payload")
}

func TestDuplicateMapKeysRejected(t *testing.T) {
	p := NewPayload(testHeader())
	// {"a": 1, "a": 2}
	p.setRaw("m", []byte{0xa2, 0x61, 'a', 0x01, 0x61, 'a', 0x02})
	_, err := NewKey[map[string]int]("m").Lookup(p)
	require.ErrorIs(t, err, ErrType, "duplicate map keys")
	_, err = NewKey[any]("m").Lookup(p)
	assert.Error(t, err, "duplicate map keys decoded into any")
}

func TestTrailingBytesInValueRejected(t *testing.T) {
	p := NewPayload(testHeader())
	p.setRaw("n", []byte{0x01, 0x02}) // two CBOR items
	_, err := NewKey[int]("n").Lookup(p)
	assert.ErrorIs(t, err, ErrType)
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
	require.NoError(t, k.Set(base, "v"))
	b := base.AppendEncode(nil)
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			p, err := Decode(b, nil)
			require.NoError(t, err)
			require.False(t, p.Dirty(), "dirty right after Decode")
			s.do(p)
			assert.Equal(t, s.dirty, p.Dirty(), "Dirty()")
		})
	}
	t.Run("clear empty", func(t *testing.T) {
		p := NewPayload(Header{})
		p.ClearValues()
		assert.False(t, p.Dirty(), "clearing an empty payload made it dirty")
	})
	t.Run("new payload", func(t *testing.T) {
		assert.False(t, NewPayload(testHeader()).Dirty(), "NewPayload is dirty")
	})
	t.Run("flashes read", func(t *testing.T) {
		p := NewPayload(Header{})
		p.AddFlash("x")
		q, err := Decode(p.AppendEncode(nil), nil)
		require.NoError(t, err)
		assert.Len(t, q.Flashes(), 1, "Flashes")
		assert.True(t, q.Dirty(), "dirty after Flashes")
	})
}

func TestFlashes(t *testing.T) {
	p := NewPayload(testHeader())
	p.AddFlash("Saved successfully")
	p.AddFlash("Second")
	require.Equal(t, []string{"_flash"}, p.Names(), "names")
	q, err := Decode(p.AppendEncode(nil), nil)
	require.NoError(t, err)
	require.Equal(t, []string{"Saved successfully", "Second"}, q.Flashes(), "Flashes")
	require.Nil(t, q.Flashes(), "second Flashes")
	require.Equal(t, 0, q.Len(), "flash value not removed")
	// A corrupt flash value is dropped, not returned, and never panics.
	q.setRaw(flashName, []byte{0x01})
	require.Nil(t, q.Flashes(), "corrupt flashes")
	require.Equal(t, 0, q.Len(), "corrupt flash value kept")
	// Keys cannot reach the reserved name.
	assert.Panics(t, func() { NewKey[[]string]("_flash") }, "NewKey(_flash) did not panic")
}

func TestNewKeyNames(t *testing.T) {
	for _, name := range []string{"a", "cart", "user.id", "x-y_z:1", strings.Repeat("n", MaxNameLen), "~!"} {
		require.Equal(t, name, NewKey[int](name).Name(), "name not kept")
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
				assert.True(t, strings.HasPrefix(msg, "codec: invalid key name "), "NewKey(%q) panic = %v", name, r)
				assert.Contains(t, msg, want, "NewKey(%q) panic = %v", name, r)
			}()
			NewKey[int](name)
		}()
	}
}

func TestEncodedLenExact(t *testing.T) {
	p := NewPayload(testHeader())
	check := func(stage string) {
		t.Helper()
		require.Equal(t, len(p.AppendEncode(nil)), p.EncodedLen(), "%s: EncodedLen against AppendEncode", stage)
		prefix := []byte("prefix")
		out := p.AppendEncode(prefix)
		require.Equal(t, p.EncodedLen(), len(out)-len(prefix), "%s: AppendEncode with a prefix", stage)
		require.True(t, bytes.HasPrefix(out, []byte("prefix")), "%s: AppendEncode with a prefix", stage)
	}
	check("empty")
	for i := 0; i < 20; i++ { // more than the inline capacity
		name := string(rune('a'+i)) + "key"
		require.NoError(t, NewKey[string](name).Set(p, strings.Repeat("v", i*40)))
		check(name)
	}
	require.NoError(t, NewKey[[]byte]("big").Set(p, make([]byte, 20000))) // 3-byte length
	check("big value")
	p.AddFlash("f")
	check("flash")
	NewKey[string]("ckey").Delete(p)
	check("delete")
	p.Header().UserID = strings.Repeat("u", 255)
	check("long user")
	q, err := Decode(p.AppendEncode(nil), nil)
	require.NoError(t, err)
	assert.Equal(t, p.Names(), q.Names(), "names")
}

func TestEncodeUserIDTooLong(t *testing.T) {
	p := NewPayload(Header{UserID: strings.Repeat("u", 256)})
	_, err := p.Encode(nil)
	require.ErrorIs(t, err, ErrTooLarge, "Encode")
	defer func() {
		r := recover()
		require.NotNil(t, r, "AppendEncode did not panic")
		require.Contains(t, r.(string), "user ID", "AppendEncode panic")
	}()
	p.AppendEncode(nil)
}

func TestUnsupportedVersion(t *testing.T) {
	b := NewPayload(testHeader()).AppendEncode(nil)
	for _, v := range []byte{0, 2, 0xff} {
		b[0] = v
		_, err := Decode(b, nil)
		var ve *VersionError
		require.ErrorIs(t, err, ErrUnsupportedVersion, "version %d", v)
		require.ErrorAs(t, err, &ve, "version %d", v)
		require.Equal(t, v, ve.Version, "version %d", v)
	}
}

func TestMalformedTruncations(t *testing.T) {
	p := NewPayload(testHeader())
	_ = NewKey[[]string]("roles").Set(p, []string{"admin", "editor"})
	_ = NewKey[string]("locale").Set(p, "en-GB")
	b := p.AppendEncode(nil)
	for n := 0; n < len(b); n++ {
		_, err := Decode(b[:n], nil)
		require.ErrorIs(t, err, ErrMalformed, "truncated to %d bytes", n)
	}
	_, err := Decode(append(bytes.Clone(b), 0), nil)
	assert.ErrorIs(t, err, ErrMalformed, "trailing byte")
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
		_, err := Decode(b, &Limits{MaxSize: len(b)})
		require.NoError(t, err, "at the limit")
		_, err = Decode(b, &Limits{MaxSize: len(b) - 1})
		require.ErrorIs(t, err, ErrTooLarge, "over MaxSize")
		huge := make([]byte, DefaultMaxSize+1)
		huge[0] = Version
		_, err = Decode(huge, nil)
		require.ErrorIs(t, err, ErrTooLarge, "over the default MaxSize")
		// Checked before any work: even a bad version gives ErrTooLarge.
		huge[0] = 9
		_, err = Decode(huge, nil)
		require.ErrorIs(t, err, ErrTooLarge, "over MaxSize with a bad version")
		assert.ErrorIs(t, NewKey[[]byte]("big").Set(p, make([]byte, DefaultMaxSize)), ErrTooLarge, "Set over MaxSize")
	})
	t.Run("depth", func(t *testing.T) {
		p := NewPayload(testHeader())
		k := NewKey[any]("deep")
		require.ErrorIs(t, k.Set(p, nested(DefaultMaxDepth+1)), ErrLimit, "Set too deep")
		require.NoError(t, k.Set(p, nested(DefaultMaxDepth-1)), "Set at the limit")
		q, err := Decode(p.AppendEncode(nil), &Limits{MaxDepth: 8})
		require.NoError(t, err)
		_, err = k.Lookup(q)
		require.ErrorIs(t, err, ErrLimit, "Lookup too deep")
		require.ErrorIs(t, err, ErrType, "Lookup too deep")
		assert.Equal(t, 8, q.Limits().MaxDepth, "Limits() = %+v", q.Limits())
	})
	t.Run("items", func(t *testing.T) {
		p := NewPayload(testHeader())
		arr := NewKey[[]int]("arr")
		require.ErrorIs(t, arr.Set(p, make([]int, DefaultMaxItems+1)), ErrLimit, "Set too many items")
		require.NoError(t, arr.Set(p, make([]int, 100)))
		m := NewKey[map[int]int]("map")
		big := map[int]int{}
		for i := 0; i < 50; i++ {
			big[i] = i
		}
		require.NoError(t, m.Set(p, big))
		q, err := Decode(p.AppendEncode(nil), &Limits{MaxItems: 20})
		require.NoError(t, err)
		_, err = arr.Lookup(q)
		require.ErrorIs(t, err, ErrLimit, "array over MaxItems")
		_, err = m.Lookup(q)
		assert.ErrorIs(t, err, ErrLimit, "map over MaxItems")
	})
	t.Run("value count", func(t *testing.T) {
		p := NewPayload(testHeader())
		for i := 0; i < 17; i++ {
			_ = NewKey[int]("k"+string(rune('a'+i))).Set(p, i)
		}
		b := p.AppendEncode(nil)
		_, err := Decode(b, &Limits{MaxItems: 16})
		require.ErrorIs(t, err, ErrLimit, "17 values, MaxItems 16")
		_, err = Decode(b, &Limits{MaxItems: 17})
		assert.NoError(t, err, "17 values, MaxItems 17")
	})
	t.Run("defaults", func(t *testing.T) {
		got := (&Limits{MaxDepth: 1, MaxItems: 2}).resolve()
		want := Limits{MaxDepth: minDepth, MaxItems: minItems, MaxSize: DefaultMaxSize}
		assert.Equal(t, want, got, "resolve")
	})
}

func TestRawAndNamesAreCopies(t *testing.T) {
	p := NewPayload(testHeader())
	k := NewKey[string]("s")
	_ = k.Set(p, "abc")
	raw, ok := p.Raw("s")
	require.True(t, ok, "Raw")
	require.Equal(t, []byte{0x63, 'a', 'b', 'c'}, raw, "Raw")
	raw[1] = 'z'
	v, _ := k.Get(p)
	require.Equal(t, "abc", v, "modifying Raw's result changed the value")
	_, ok = p.Raw("nope")
	assert.False(t, ok, "Raw of absent name")
}

func TestSessionID(t *testing.T) {
	a, err := NewSessionID()
	require.NoError(t, err)
	b, _ := NewSessionID()
	require.NotEqual(t, a, b, "session IDs not random")
	require.False(t, a.IsZero(), "session IDs not random")
	c, err := ParseSessionID(a.String())
	require.NoError(t, err, "ParseSessionID")
	require.Equal(t, a, c, "ParseSessionID")
	assert.Len(t, a.Tag(), 8, "Tag")
	assert.NotContains(t, a.String(), a.Tag(), "Tag")
}

func TestKeyString(t *testing.T) {
	assert.Equal(t, `codec.Key[[]codec.cartItem]("cart")`, NewKey[[]cartItem]("cart").String())
}

func TestNewReservedKey(t *testing.T) {
	k := NewReservedKey[int]("_bind")
	p := NewPayload(Header{})
	require.NoError(t, k.Set(p, 7))
	v, ok := k.Get(p)
	require.True(t, ok, "Get")
	require.Equal(t, 7, v, "Get")
	for _, bad := range []string{"bind", "_", "_flash", "_a b"} {
		assert.Panics(t, func() { NewReservedKey[int](bad) }, "NewReservedKey(%q) did not panic", bad)
	}
}
