package codec

import (
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Successive versions of a value type, as an application evolves it.
type itemV1 struct {
	SKU string
	Qty int
}

type itemRenamed struct { // Qty renamed to Quantity
	SKU      string
	Quantity int
}

type itemAdded struct { // a field added
	SKU  string
	Qty  int
	Note string
}

type itemOptional struct { // a field added, optional
	SKU  string
	Qty  int
	Note string `cbor:",omitempty"`
}

type itemDropped struct { // a field removed
	SKU string
}

type itemRetyped struct { // Qty became a float
	SKU string
	Qty float64
}

type itemTagged struct { // Qty stored under another name by a tag
	SKU string
	Qty int `cbor:"q"`
}

type itemEmbedded struct {
	itemV1
	Note string `cbor:",omitempty"`
}

type nestedV1 struct {
	Items []itemV1
	Meta  map[string]itemV1
	Ptr   *itemV1
}

type nestedRenamed struct {
	Items []itemRenamed
	Meta  map[string]itemV1
	Ptr   *itemV1
}

type nestedPtrRenamed struct {
	Items []itemV1
	Meta  map[string]itemV1
	Ptr   *itemRenamed
}

// store returns a payload holding v under name, as a round trip through
// the wire form.
func store[T any](t testing.TB, name string, v T) *Payload {
	t.Helper()
	p := NewPayload(testHeader())
	require.NoError(t, NewKey[T](name).Set(p, v))
	q, err := Decode(p.AppendEncode(nil), nil)
	require.NoError(t, err)
	return q
}

// readBoth reads name as T through a lenient and a strict key.
func readBoth[T any](p *Payload, name string) (lenient T, lerr error, strict T, serr error) {
	lenient, lerr = NewKey[T](name).Lookup(p)
	strict, serr = NewKey[T](name, Strict()).Lookup(p)
	return
}

func wantMismatch(t *testing.T, err error, detail string) {
	t.Helper()
	var te *TypeError
	require.ErrorIs(t, err, ErrSchemaMismatch)
	require.ErrorIs(t, err, ErrType)
	require.ErrorAs(t, err, &te)
	require.NotErrorIs(t, err, ErrNotFound)
	require.ErrorContains(t, err, detail)
}

func TestStrictRefusesSchemaChanges(t *testing.T) {
	p := store(t, "item", itemV1{SKU: "A-1", Qty: 3})

	t.Run("same type", func(t *testing.T) {
		l, lerr, s, serr := readBoth[itemV1](p, "item")
		require.NoError(t, lerr)
		require.NoError(t, serr)
		assert.Equal(t, s, l)
		assert.Equal(t, itemV1{"A-1", 3}, s)
	})
	t.Run("renamed field", func(t *testing.T) {
		l, lerr, s, serr := readBoth[itemRenamed](p, "item")
		// The silent loss the strict mode exists for.
		require.NoError(t, lerr, "lenient")
		require.Equal(t, itemRenamed{SKU: "A-1"}, l, "lenient")
		wantMismatch(t, serr, `1 stored field(s) not in the type; not stored: "Quantity" (renamed?)`)
		require.Equal(t, itemRenamed{}, s, "strict returned a value with an error")
		v, ok := NewKey[itemRenamed]("item", Strict()).Get(p)
		assert.False(t, ok, "strict Get")
		assert.Equal(t, itemRenamed{}, v, "strict Get")
	})
	t.Run("added field", func(t *testing.T) {
		_, lerr, _, serr := readBoth[itemAdded](p, "item")
		require.NoError(t, lerr)
		wantMismatch(t, serr, `not stored: "Note"`)
	})
	t.Run("added omitempty field", func(t *testing.T) {
		_, _, s, serr := readBoth[itemOptional](p, "item")
		// An absent omitempty field is not a mismatch.
		assert.NoError(t, serr)
		assert.Equal(t, itemOptional{SKU: "A-1", Qty: 3}, s)
	})
	t.Run("dropped field", func(t *testing.T) {
		_, lerr, _, serr := readBoth[itemDropped](p, "item")
		require.NoError(t, lerr)
		wantMismatch(t, serr, `1 stored field(s) not in the type`)
	})
	t.Run("retyped field", func(t *testing.T) {
		l, lerr, _, serr := readBoth[itemRetyped](p, "item")
		require.NoError(t, lerr, "lenient")
		require.Equal(t, float64(3), l.Qty, "lenient")
		wantMismatch(t, serr, "another form")
	})
	t.Run("tag renames the field", func(t *testing.T) {
		_, _, _, serr := readBoth[itemTagged](p, "item")
		wantMismatch(t, serr, `1 stored field(s) not in the type; not stored: "q"`)
	})
	t.Run("embedded struct", func(t *testing.T) {
		_, _, s, serr := readBoth[itemEmbedded](p, "item")
		assert.NoError(t, serr, "promoted fields")
		assert.Equal(t, itemV1{"A-1", 3}, s.itemV1, "promoted fields")
	})
	t.Run("wrong kind is a plain type error", func(t *testing.T) {
		_, _, _, serr := readBoth[[]itemV1](p, "item")
		assert.ErrorIs(t, serr, ErrType)
		assert.NotErrorIs(t, serr, ErrSchemaMismatch)
	})
	t.Run("not found", func(t *testing.T) {
		_, err := NewKey[itemV1]("nothing", Strict()).Lookup(p)
		assert.ErrorIs(t, err, ErrNotFound)
	})
}

func TestStrictNested(t *testing.T) {
	v := nestedV1{
		Items: []itemV1{{"A", 1}, {"B", 2}},
		Meta:  map[string]itemV1{"x": {"C", 3}},
		Ptr:   &itemV1{"D", 4},
	}
	p := store(t, "n", v)
	_, _, s, serr := readBoth[nestedV1](p, "n")
	require.NoError(t, serr)
	require.Equal(t, v, s)
	_, _, _, serr = readBoth[nestedRenamed](p, "n")
	wantMismatch(t, serr, `not stored: "Quantity"`)
	_, _, _, serr = readBoth[nestedPtrRenamed](p, "n")
	wantMismatch(t, serr, `not stored: "Quantity"`)
	_, _, _, serr = readBoth[[]itemRenamed](store(t, "s", []itemV1{{"A", 1}}), "s")
	wantMismatch(t, serr, `not stored: "Quantity"`)
	// An empty slice has no element to disagree with.
	_, _, _, serr = readBoth[[]itemRenamed](store(t, "s", []itemV1{}), "s")
	assert.NoError(t, serr)
}

func TestStrictRoundTripsEveryType(t *testing.T) {
	// Values written by a key of the same type read back strictly.
	loc := time.FixedZone("X", 3600)
	cases := []any{
		"text", int64(-5), uint64(7), true, []byte{1, 2}, 1.5, math.Inf(1), float32(0.1),
		[]string{"a", "b"}, map[string]int{"b": 2, "a": 1},
		time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 0, loc), time.Time{},
		profile{Name: "n", Age: 3, Tags: []string{"x"}, Address: &address{}, Prefs: map[string]bool{"dark": true}, Seen: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)},
		profile{},
		[]cartItem{{"A", 1, 100}},
		map[string]any{"k": []any{uint64(1), "x"}},
		itemOptional{SKU: "a", Qty: 1, Note: "n"},
	}
	for _, v := range cases {
		name := fmt.Sprintf("%T", v)
		t.Run(name, func(t *testing.T) {
			p := NewPayload(testHeader())
			require.NoError(t, setAny(p, v))
			got, err := lookupAny(p, v, true)
			require.NoError(t, err, "strict Lookup of %#v", v)
			want, _ := lookupAny(p, v, false)
			assert.Equal(t, want, got, "strict against lenient")
		})
	}
}

// setAny stores v under "v" with a key of v's dynamic type.
func setAny(p *Payload, v any) error {
	rv := reflect.New(reflect.TypeOf(v))
	rv.Elem().Set(reflect.ValueOf(v))
	raw, err := encMode.Marshal(rv.Interface())
	if err != nil {
		return err
	}
	p.setRaw("v", raw)
	return nil
}

// lookupAny decodes "v" into a new value of v's dynamic type.
func lookupAny(p *Payload, v any, strict bool) (any, error) {
	raw, _ := p.raw("v")
	dst := reflect.New(reflect.TypeOf(v))
	var err error
	switch {
	case fastUnmarshal(raw, dst.Interface()):
		// scalars, as Key.decode reads them first
	case strict:
		err = decodeStrict(p, raw, dst.Interface())
	default:
		err = decodeGuarded(p.decoding().dm, raw, dst.Interface())
	}
	return dst.Elem().Interface(), err
}

func TestStrictKeyBasics(t *testing.T) {
	k := NewKey[itemV1]("item", Strict())
	require.True(t, k.IsStrict(), "IsStrict")
	require.False(t, NewKey[itemV1]("item").IsStrict(), "IsStrict")
	require.Equal(t, `codec.Key[codec.itemV1]("item", strict)`, k.String())
	// Set is the same for both kinds of key.
	p := NewPayload(testHeader())
	require.NoError(t, k.Set(p, itemV1{"A", 1}))
	v, ok := k.Get(p)
	require.True(t, ok, "Get")
	require.Equal(t, itemV1{"A", 1}, v, "Get")
	// Limits apply to strict reads too.
	deep := store(t, "d", [][][][][][]int{{{{{{1}}}}}})
	var err error
	deep.dec, err = decodingFor((&Limits{MaxDepth: 4}).resolve())
	require.NoError(t, err)
	_, err = NewKey[[][][][][][]int]("d", Strict()).Lookup(deep)
	assert.ErrorIs(t, err, ErrLimit)
}

// The error names fields, never stored values.
func TestStrictErrorsCarryNoValues(t *testing.T) {
	const secret = "s3cr3t-value-do-not-log"
	p := store(t, "item", itemAdded{SKU: secret, Qty: 1, Note: secret})
	_, err := NewKey[itemDropped]("item", Strict()).Lookup(p)
	require.Error(t, err)
	require.NotContains(t, err.Error(), secret)
	p = store(t, "m", map[string]string{secret: secret})
	_, err = NewKey[itemV1]("m", Strict()).Lookup(p)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)
}
