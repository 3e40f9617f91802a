package codec

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Types the compiled codecs must handle exactly as the CBOR library does.

type plainUser struct {
	Name  string
	Age   int
	Admin bool
	Tags  []string
}

type jsonTagged struct {
	A    string `json:"a"`
	B    []byte `json:"b"`
	C    uint16 `json:"c"`
	Skip string `json:"-"`
	Dash string `cbor:"-" json:"dash"`
	//lint:ignore U1000 an unexported field, which is not encoded
	hidden int
}

type (
	qty   int
	skus  []string
	token []byte
)

type nestedValue struct {
	Inner   plainUser
	Items   []benchItem
	Matrix  [][]int8
	Blobs   [][]byte
	U8      uint8
	I16     int16
	I32     int32
	U16     uint16
	U32     uint32
	U       uint
	U64     uint64
	I64     int64
	I8      int8
	Uni     string `cbor:"ünïcødé"`
	Q       qty    `cbor:"q"`
	S       skus
	Users   []plainUser
	Tagged  jsonTagged `json:"tagged"`
	Longer  string     `cbor:"a-field-name-longer-than-twenty-three-bytes"`
	Nothing struct{}
	Tok     token
	Prefs   map[string]string
	Counts  map[prefName]int16
	Carts   map[string][]benchItem
}

type prefName string

type mixedKeys struct {
	A int    `cbor:"-1,keyasint"`
	B int    `cbor:"24,keyasint"`
	C string `cbor:"300,keyasint"`
	D string `cbor:"d"`
	E bool   `cbor:"0,keyasint"`
	F []int  `cbor:"-100000,keyasint"`
}

// compiledTestTypes are the types of the differential tests.
var compiledTestTypes = []reflect.Type{
	reflect.TypeFor[benchItem](),
	reflect.TypeFor[[]benchItem](),
	reflect.TypeFor[benchProfile](),
	reflect.TypeFor[plainUser](),
	reflect.TypeFor[jsonTagged](),
	reflect.TypeFor[nestedValue](),
	reflect.TypeFor[[]nestedValue](),
	reflect.TypeFor[mixedKeys](),
	reflect.TypeFor[[]string](),
	reflect.TypeFor[[][]byte](),
	reflect.TypeFor[[]int16](),
	reflect.TypeFor[[]uint8](),
	reflect.TypeFor[string](),
	reflect.TypeFor[int](),
	reflect.TypeFor[uint8](),
	reflect.TypeFor[int64](),
	reflect.TypeFor[bool](),
	reflect.TypeFor[struct{}](),
	reflect.TypeFor[map[string]string](),
	reflect.TypeFor[map[string]plainUser](),
	reflect.TypeFor[map[string]map[string][]byte](),
	wideStruct,
}

// wideStruct has more than 23 fields, so its map head takes two bytes.
var wideStruct = func() reflect.Type {
	var fs []reflect.StructField
	for i := range 30 {
		t := reflect.TypeFor[int]()
		if i%3 == 1 {
			t = reflect.TypeFor[string]()
		}
		fs = append(fs, reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: t})
	}
	return reflect.StructOf(fs)
}()

// randValue returns a random value of t (of the compiled shapes), with
// edge cases: nil and empty slices, extreme integers, unicode strings.
func randValue(r *rand.Rand, t reflect.Type, depth int) reflect.Value {
	v := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 1)
	case reflect.String:
		v.SetString(randString(r))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := t.Bits()
		lo, hi := int64(-1)<<(bits-1), int64(uint64(1)<<(bits-1)-1)
		switch r.IntN(6) {
		case 0:
			v.SetInt(lo)
		case 1:
			v.SetInt(hi)
		case 2:
			v.SetInt(int64(r.IntN(600)) - 300)
		case 3:
			v.SetInt([]int64{0, -1, 23, 24, -24, -25, 255, 256, -256, -257, 65535, 65536, -65537}[r.IntN(13)])
		default:
			v.SetInt(int64(r.Uint64()) >> (64 - bits))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		bits := t.Bits()
		switch r.IntN(4) {
		case 0:
			v.SetUint(math.MaxUint64 >> (64 - bits))
		case 1:
			v.SetUint(uint64(r.IntN(300)))
		case 2:
			v.SetUint([]uint64{0, 23, 24, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32}[r.IntN(9)] & (math.MaxUint64 >> (64 - bits)))
		default:
			v.SetUint(r.Uint64() >> (64 - bits))
		}
	case reflect.Slice:
		switch n := r.IntN(8); {
		case n == 0:
			// nil
		case n == 1:
			v.Set(reflect.MakeSlice(t, 0, 0))
		default:
			if depth > 3 {
				n = 1
			}
			if r.IntN(20) == 0 {
				n = 30 // a two-byte array head
			}
			if t.Elem().Kind() == reflect.Uint8 {
				n = r.IntN(40)
			}
			s := reflect.MakeSlice(t, n, n+r.IntN(3))
			for i := range n {
				s.Index(i).Set(randValue(r, t.Elem(), depth+1))
			}
			v.Set(s)
		}
	case reflect.Map:
		switch n := r.IntN(6); {
		case n == 0:
			// nil
		case n == 1:
			v.Set(reflect.MakeMap(t))
		default:
			if depth > 3 {
				n = 1
			}
			if r.IntN(20) == 0 {
				n = 40 // likely a two-byte map head
			}
			m := reflect.MakeMap(t)
			for range n {
				k := reflect.New(t.Key()).Elem()
				k.SetString(randString(r))
				m.SetMapIndex(k, randValue(r, t.Elem(), depth+1))
			}
			v.Set(m)
		}
	case reflect.Struct:
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				v.Field(i).Set(randValue(r, t.Field(i).Type, depth+1))
			}
		}
	default:
		panic("randValue: " + t.String())
	}
	return v
}

func randString(r *rand.Rand) string {
	parts := []string{"", "a", "SKU-1001", "ünïcødé", "日本語", "🙂", "\x00", "en-GB", strings.Repeat("x", 24), strings.Repeat("y", 300)}
	var b strings.Builder
	for range r.IntN(4) {
		b.WriteString(parts[r.IntN(len(parts))])
	}
	return b.String()
}

// checkCompiled checks the compiled codec of v's type against the CBOR
// library for the value v: the same bytes, and the same decoded value.
func checkCompiled(t *testing.T, v reflect.Value) {
	t.Helper()
	typ := v.Type()
	c := compiledFor(typ)
	require.NotNil(t, c, "%s has no compiled codec", typ)
	src := reflect.New(typ)
	src.Elem().Set(v)
	want, err := encMode.Marshal(v.Interface())
	require.NoError(t, err)
	got, ok := c.encode(src.UnsafePointer(), &defaultLimits)
	if hasMap(typ) {
		require.False(t, ok, "%s: a type with a map encodes through the library", typ)
	} else {
		require.True(t, ok, "%s: compiled encoder declined", typ)
		require.Equal(t, want, got, "%s %#v: compiled encoding differs", typ, v.Interface())
	}

	fast := reflect.New(typ)
	require.True(t, c.decode(want, fast.UnsafePointer(), &defaultLimits), "%s: compiled decoder declined %x", typ, want)
	slow := reflect.New(typ)
	require.NoError(t, defaultDecMode.Unmarshal(want, slow.Interface()))
	require.True(t, reflect.DeepEqual(slow.Elem().Interface(), fast.Elem().Interface()),
		"%s %x: compiled decode %#v, library %#v", typ, want, fast.Elem().Interface(), slow.Elem().Interface())
}

// hasMap reports whether t has a map anywhere inside.
func hasMap(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Map:
		return true
	case reflect.Slice:
		return hasMap(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasMap(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

func TestCompiledMatchesLibrary(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, typ := range compiledTestTypes {
		t.Run(typ.String(), func(t *testing.T) {
			checkCompiled(t, reflect.New(typ).Elem()) // the zero value
			for range 300 {
				checkCompiled(t, randValue(r, typ, 0))
			}
		})
	}
}

// TestCompiledMutations decodes damaged encodings: whenever the compiled
// decoder accepts one, the library must accept it with the same value.
func TestCompiledMutations(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	accepted := 0
	for _, typ := range compiledTestTypes {
		c := compiledFor(typ)
		for range 100 {
			raw, err := encMode.Marshal(randValue(r, typ, 0).Interface())
			require.NoError(t, err)
			for range 20 {
				b := append([]byte(nil), raw...)
				switch r.IntN(4) {
				case 0:
					b = b[:r.IntN(len(b)+1)]
				case 1:
					b = append(b, byte(r.Uint32()))
				default:
					b[r.IntN(len(b))] ^= byte(1 << r.IntN(8))
				}
				if checkAgainstLibrary(t, c, typ, b, &defaultLimits) {
					accepted++
				}
			}
		}
	}
	t.Logf("%d damaged encodings accepted by both", accepted)
}

// checkAgainstLibrary decodes b with c and, if that succeeds, requires the
// library (with lim's decode mode) to give the same value. It reports
// whether c accepted b.
func checkAgainstLibrary(t *testing.T, c *compiled, typ reflect.Type, b []byte, lim *Limits) bool {
	t.Helper()
	fast := reflect.New(typ)
	if !c.decode(b, fast.UnsafePointer(), lim) {
		return false
	}
	dm, err := decModeFor(*lim)
	require.NoError(t, err)
	slow := reflect.New(typ)
	require.NoError(t, decodeGuarded(dm, b, slow.Interface()), "%s %x: compiled decoder accepted what the library refuses", typ, b)
	require.True(t, reflect.DeepEqual(slow.Elem().Interface(), fast.Elem().Interface()),
		"%s %x: compiled decode %#v, library %#v", typ, b, fast.Elem().Interface(), slow.Elem().Interface())
	return true
}

// TestCompiledDeclines checks forms the encoder never writes are left to
// the library.
func TestCompiledDeclines(t *testing.T) {
	item := compiledFor(reflect.TypeFor[benchItem]())
	items := compiledFor(reflect.TypeFor[[]benchItem]())
	str := compiledFor(reflect.TypeFor[string]())
	u8 := compiledFor(reflect.TypeFor[uint8]())
	i8 := compiledFor(reflect.TypeFor[int8]())
	user := compiledFor(reflect.TypeFor[plainUser]())
	for _, tc := range []struct {
		c   *compiled
		typ reflect.Type
		raw []byte
	}{
		{item, reflect.TypeFor[benchItem](), []byte{0xa3, 0x02, 0x01, 0x01, 0x60, 0x03, 0x01}},       // keys out of order
		{item, reflect.TypeFor[benchItem](), []byte{0xa2, 0x01, 0x60, 0x02, 0x01}},                   // a field missing
		{item, reflect.TypeFor[benchItem](), []byte{0xa3, 0x01, 0x60, 0x02, 0x18, 0x01, 0x03, 0x01}}, // non-shortest int
		{item, reflect.TypeFor[benchItem](), []byte{0xbf, 0x01, 0x60, 0x02, 0x01, 0x03, 0x01, 0xff}}, // indefinite map
		{item, reflect.TypeFor[benchItem](), []byte{0xf6}},                                           // null struct
		{items, reflect.TypeFor[[]benchItem](), []byte{0x9f, 0xff}},                                  // indefinite array
		{items, reflect.TypeFor[[]benchItem](), []byte{0x80, 0x00}},                                  // trailing byte
		{str, reflect.TypeFor[string](), []byte{0x62, 0xff, 0xfe}},                                   // invalid UTF-8
		{str, reflect.TypeFor[string](), []byte{0x42, 'h', 'i'}},                                     // byte string
		{u8, reflect.TypeFor[uint8](), []byte{0x19, 0x01, 0x00}},                                     // 256 overflows
		{u8, reflect.TypeFor[uint8](), []byte{0x20}},                                                 // negative
		{i8, reflect.TypeFor[int8](), []byte{0x38, 0x80}},                                            // -129
		{i8, reflect.TypeFor[int8](), []byte{0x18, 0x80}},                                            // 128
		{user, reflect.TypeFor[plainUser](), []byte{0xa4, 0x63, 'A', 'g', 'e', 0x00, 0x64, 'N', 'A', 'M', 'E', 0x60, 0x64, 'T', 'a', 'g', 's', 0xf6, 0x65, 'A', 'd', 'm', 'i', 'n', 0xf4}}, // case-insensitive key
	} {
		require.False(t, checkAgainstLibrary(t, tc.c, tc.typ, tc.raw, &defaultLimits), "%s: accepted %x", tc.typ, tc.raw)
	}
	strs := compiledFor(reflect.TypeFor[map[string]int]())
	for _, raw := range [][]byte{
		{0xa2, 0x61, 'b', 0x01, 0x61, 'a', 0x02},      // keys out of order
		{0xa2, 0x61, 'a', 0x01, 0x61, 'a', 0x02},      // duplicate keys
		{0xa2, 0x62, 'a', 'a', 0x01, 0x61, 'b', 0x02}, // longer key first
		{0xa1, 0x41, 'a', 0x01},                       // byte string key
	} {
		require.False(t, checkAgainstLibrary(t, strs, reflect.TypeFor[map[string]int](), raw, &defaultLimits), "map: accepted %x", raw)
	}
	require.True(t, checkAgainstLibrary(t, strs, reflect.TypeFor[map[string]int](), []byte{0xa3, 0x60, 0x00, 0x61, 'b', 0x01, 0x62, 'a', 'a', 0x02}, &defaultLimits))
	// The canonical forms are accepted.
	require.True(t, checkAgainstLibrary(t, i8, reflect.TypeFor[int8](), []byte{0x38, 0x7f}, &defaultLimits))
	require.True(t, checkAgainstLibrary(t, items, reflect.TypeFor[[]benchItem](), []byte{0x81, 0xa3, 0x01, 0x60, 0x02, 0x01, 0x03, 0x20}, &defaultLimits))
}

// Types that must fall back to the CBOR library.

type withTime struct {
	At time.Time
}

type textID string

func (i textID) MarshalText() ([]byte, error) { return []byte("id:" + string(i)), nil }

func (i *textID) UnmarshalText(b []byte) error {
	*i = textID(strings.TrimPrefix(string(b), "id:"))
	return nil
}

type withMarshaler struct {
	ID textID
}

type jsonOnly struct{ N int }

func (j jsonOnly) MarshalJSON() ([]byte, error) { return json.Marshal(j.N) }

type withOmitEmpty struct {
	A string `cbor:"a,omitempty"`
}

type withOmitZero struct {
	A int `json:",omitzero"`
}

type withFloat struct {
	F float64
}

type embeddedBase struct{ ID int }

type withEmbedded struct {
	embeddedBase
	Name string
}

type withPointer struct {
	P *int
}

type withMap struct {
	M map[int]string
}

type withFloatMap struct {
	M map[string]float64
}

type withArray struct {
	A [2]int
}

type recursive struct {
	Name     string
	Children []recursive
}

type withToArray struct {
	_ struct{} `cbor:",toarray"`
	A int
}

type withFoldedNames struct {
	Name string
	NAME string `cbor:"NAME"`
}

type withDupTag struct {
	A string
	B string `json:"A"`
}

type withBadKeyAsInt struct {
	A int `cbor:"01,keyasint"`
}

type withIface struct {
	V any
}

type namedBytes []myByte

type myByte uint8

func TestCompiledFallback(t *testing.T) {
	n := 7
	check := func(v any) {
		t.Helper()
		typ := reflect.TypeOf(v)
		assert.Nil(t, compiledFor(typ), "%s must have no compiled codec", typ)
	}
	check(withTime{})
	check(withMarshaler{})
	check(jsonOnly{})
	check(withOmitEmpty{})
	check(withOmitZero{})
	check(withFloat{})
	check(withEmbedded{})
	check(withPointer{})
	check(withMap{})
	check(withFloatMap{})
	check(withArray{})
	check(recursive{})
	check(withToArray{})
	check(withFoldedNames{})
	check(withDupTag{})
	check(withBadKeyAsInt{})
	check(withIface{})
	check(namedBytes{})
	check([]withFloat{})
	check(time.Time{})
	check(uintptr(0))

	// They still work through the public API.
	p := NewPayload(Header{})
	fallbackRoundTrip(t, p, withTime{At: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)})
	fallbackRoundTrip(t, p, withMarshaler{ID: "x"})
	fallbackRoundTrip(t, p, withOmitEmpty{})
	fallbackRoundTrip(t, p, withFloat{F: 1.5})
	fallbackRoundTrip(t, p, withEmbedded{embeddedBase{3}, "n"})
	fallbackRoundTrip(t, p, withPointer{P: &n})
	fallbackRoundTrip(t, p, withMap{M: map[int]string{1: "a"}})
	fallbackRoundTrip(t, p, withFloatMap{M: map[string]float64{"a": 0.5}})
	fallbackRoundTrip(t, p, recursive{Name: "a", Children: []recursive{{Name: "b"}}})
	fallbackRoundTrip(t, p, withFoldedNames{Name: "a", NAME: "b"})
}

// setAndLookup sets v through k, checks that the stored bytes are the
// library's encoding of v, and returns those bytes and k's Lookup.
func setAndLookup[T any](t *testing.T, p *Payload, k Key[T], v T) ([]byte, T) {
	t.Helper()
	require.NoError(t, k.Set(p, v))
	raw, _ := p.Raw(k.Name())
	want, err := encMode.Marshal(v)
	require.NoError(t, err)
	require.Equal(t, want, raw, "%T: stored bytes", v)
	got, err := k.Lookup(p)
	require.NoError(t, err)
	return raw, got
}

// fallbackRoundTrip sets v through a key of its type and gets it back.
func fallbackRoundTrip[T any](t *testing.T, p *Payload, v T) {
	t.Helper()
	_, got := setAndLookup(t, p, NewKey[T]("v"), v)
	require.Equal(t, v, got)
}

// TestCompiledKeyAPI round-trips values through Key.Set and Key.Get, and
// through a payload's encoding.
func TestCompiledKeyAPI(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	p := NewPayload(Header{})
	for range 200 {
		roundTripDeep(t, p, randValue(r, reflect.TypeFor[nestedValue](), 0).Interface().(nestedValue))
		roundTripDeep(t, p, randValue(r, reflect.TypeFor[[]benchItem](), 0).Interface().([]benchItem))
		roundTripDeep(t, p, randValue(r, reflect.TypeFor[mixedKeys](), 0).Interface().(mixedKeys))
		roundTripDeep(t, p, randValue(r, reflect.TypeFor[[][]byte](), 0).Interface().([][]byte))
	}
	// Through Decode, and with a returned []byte modified.
	k := NewKey[jsonTagged]("j")
	require.NoError(t, k.Set(p, jsonTagged{A: "a", B: []byte("bytes"), C: 7, Skip: "s"}))
	q, err := Decode(p.AppendEncode(nil), nil)
	require.NoError(t, err)
	got, ok := k.Get(q)
	require.True(t, ok)
	require.Equal(t, jsonTagged{A: "a", B: []byte("bytes"), C: 7}, got)
	got.B[0] = 'X'
	again, _ := k.Get(q)
	require.Equal(t, "bytes", string(again.B), "a returned []byte shares memory")
}

// roundTripDeep is fallbackRoundTrip with reflect.DeepEqual (nil and empty slices
// differ).
func roundTripDeep[T any](t *testing.T, p *Payload, v T) {
	t.Helper()
	k := NewKey[T]("v")
	require.NotNil(t, k.fast)
	raw, got := setAndLookup(t, p, k, v)
	var lib T
	require.NoError(t, defaultDecMode.Unmarshal(raw, &lib))
	require.True(t, reflect.DeepEqual(lib, got), "%T: Lookup %#v, library %#v", v, got, lib)
}

// TestCompiledLimits checks that values beyond a payload's limits give the
// general path's errors, on Set and on Get.
func TestCompiledLimits(t *testing.T) {
	lim := &Limits{MaxItems: 16, MaxDepth: 4}
	small := NewPayload(Header{})
	var err error
	small.dec, err = decodingFor(lim.resolve())
	require.NoError(t, err)

	long := make([]string, 17)
	k := NewKey[[]string]("s")
	require.ErrorIs(t, k.Set(small, long), ErrLimit)
	require.NoError(t, k.Set(small, long[:16]))

	deep := NewKey[[][][][][]int]("d")
	require.ErrorIs(t, deep.Set(small, [][][][][]int{{{{{1}}}}}), ErrLimit)
	require.NoError(t, deep.Set(small, [][][][][]int{{{{}}}}), "depth 4 fits")

	wide := compiledFor(wideStruct)
	_, ok := wide.encode(reflect.New(wideStruct).UnsafePointer(), &Limits{MaxItems: 16, MaxDepth: 4, MaxSize: DefaultMaxSize})
	require.False(t, ok, "a 30-field struct exceeds MaxItems 16")

	// Stored under the default limits, read under small ones.
	big := NewPayload(Header{})
	require.NoError(t, k.Set(big, long))
	require.NoError(t, deep.Set(big, [][][][][]int{{{{{1}}}}}))
	q, err := Decode(big.AppendEncode(nil), lim)
	require.NoError(t, err)
	_, err = k.Lookup(q)
	require.ErrorIs(t, err, ErrLimit)
	_, err = deep.Lookup(q)
	require.ErrorIs(t, err, ErrLimit)
	raw, _ := big.Raw("s")
	require.False(t, checkAgainstLibrary(t, k.fast, reflect.TypeFor[[]string](), raw, lim))
}

// TestCompiledStrictUnchanged checks that strict keys still report schema
// mismatches (they do not use the compiled decoder).
func TestCompiledStrictUnchanged(t *testing.T) {
	type v1 struct{ A, B string }
	type v2 struct{ A string }
	p := NewPayload(Header{})
	require.NoError(t, NewKey[v1]("v").Set(p, v1{"a", "b"}))
	got, ok := NewKey[v2]("v").Get(p)
	require.True(t, ok, "lenient read drops B")
	require.Equal(t, v2{"a"}, got)
	_, err := NewKey[v2]("v", Strict()).Lookup(p)
	require.True(t, errors.Is(err, ErrSchemaMismatch), "strict: %v", err)
}

// FuzzCompiled feeds arbitrary bytes to compiled decoders: they never
// panic, and whatever they accept the library decodes to the same value.
func FuzzCompiled(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 8))
	types := []reflect.Type{
		reflect.TypeFor[[]benchItem](), reflect.TypeFor[nestedValue](), reflect.TypeFor[mixedKeys](),
		reflect.TypeFor[[][]byte](), reflect.TypeFor[[]int16](), reflect.TypeFor[benchProfile](),
		reflect.TypeFor[map[string]map[string][]byte](), reflect.TypeFor[map[string]plainUser](),
	}
	for i, typ := range types {
		for range 3 {
			raw, err := encMode.Marshal(randValue(r, typ, 0).Interface())
			require.NoError(f, err)
			f.Add(uint8(i), raw)
		}
	}
	small := &Limits{MaxItems: 16, MaxDepth: 4}
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		typ := types[int(which)%len(types)]
		c := compiledFor(typ)
		checkAgainstLibrary(t, c, typ, b, &defaultLimits)
		lim := small.resolve()
		checkAgainstLibrary(t, c, typ, b, &lim)
	})
}
