package codec

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
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
	if err := NewKey[T](name).Set(p, v); err != nil {
		t.Fatal(err)
	}
	q, err := Decode(p.AppendEncode(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
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
	if !errors.Is(err, ErrSchemaMismatch) || !errors.Is(err, ErrType) || !errors.As(err, &te) || errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want a *TypeError matching ErrSchemaMismatch and ErrType", err)
	}
	if !strings.Contains(err.Error(), detail) {
		t.Fatalf("err = %q, want it to say %q", err, detail)
	}
}

func TestStrictRefusesSchemaChanges(t *testing.T) {
	p := store(t, "item", itemV1{SKU: "A-1", Qty: 3})

	t.Run("same type", func(t *testing.T) {
		l, lerr, s, serr := readBoth[itemV1](p, "item")
		if lerr != nil || serr != nil || l != s || s != (itemV1{"A-1", 3}) {
			t.Fatalf("%+v %v / %+v %v", l, lerr, s, serr)
		}
	})
	t.Run("renamed field", func(t *testing.T) {
		l, lerr, s, serr := readBoth[itemRenamed](p, "item")
		// The silent loss the strict mode exists for.
		if lerr != nil || l != (itemRenamed{SKU: "A-1"}) {
			t.Fatalf("lenient: %+v %v", l, lerr)
		}
		wantMismatch(t, serr, `1 stored field(s) not in the type; not stored: "Quantity" (renamed?)`)
		if s != (itemRenamed{}) {
			t.Fatalf("strict returned %+v with an error", s)
		}
		if v, ok := NewKey[itemRenamed]("item", Strict()).Get(p); ok || v != (itemRenamed{}) {
			t.Fatalf("strict Get = %+v, %v", v, ok)
		}
	})
	t.Run("added field", func(t *testing.T) {
		_, lerr, _, serr := readBoth[itemAdded](p, "item")
		if lerr != nil {
			t.Fatal(lerr)
		}
		wantMismatch(t, serr, `not stored: "Note"`)
	})
	t.Run("added omitempty field", func(t *testing.T) {
		_, _, s, serr := readBoth[itemOptional](p, "item")
		if serr != nil || s != (itemOptional{SKU: "A-1", Qty: 3}) {
			t.Fatalf("an absent omitempty field is not a mismatch: %+v %v", s, serr)
		}
	})
	t.Run("dropped field", func(t *testing.T) {
		_, lerr, _, serr := readBoth[itemDropped](p, "item")
		if lerr != nil {
			t.Fatal(lerr)
		}
		wantMismatch(t, serr, `1 stored field(s) not in the type`)
	})
	t.Run("retyped field", func(t *testing.T) {
		l, lerr, _, serr := readBoth[itemRetyped](p, "item")
		if lerr != nil || l.Qty != 3 {
			t.Fatalf("lenient: %+v %v", l, lerr)
		}
		wantMismatch(t, serr, "another form")
	})
	t.Run("tag renames the field", func(t *testing.T) {
		_, _, _, serr := readBoth[itemTagged](p, "item")
		wantMismatch(t, serr, `1 stored field(s) not in the type; not stored: "q"`)
	})
	t.Run("embedded struct", func(t *testing.T) {
		_, _, s, serr := readBoth[itemEmbedded](p, "item")
		if serr != nil || s.itemV1 != (itemV1{"A-1", 3}) {
			t.Fatalf("promoted fields: %+v %v", s, serr)
		}
	})
	t.Run("wrong kind is a plain type error", func(t *testing.T) {
		_, _, _, serr := readBoth[[]itemV1](p, "item")
		if !errors.Is(serr, ErrType) || errors.Is(serr, ErrSchemaMismatch) {
			t.Fatalf("err = %v", serr)
		}
	})
	t.Run("not found", func(t *testing.T) {
		if _, err := NewKey[itemV1]("nothing", Strict()).Lookup(p); !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
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
	if serr != nil || !reflect.DeepEqual(s, v) {
		t.Fatalf("%+v %v", s, serr)
	}
	_, _, _, serr = readBoth[nestedRenamed](p, "n")
	wantMismatch(t, serr, `not stored: "Quantity"`)
	_, _, _, serr = readBoth[nestedPtrRenamed](p, "n")
	wantMismatch(t, serr, `not stored: "Quantity"`)
	_, _, _, serr = readBoth[[]itemRenamed](store(t, "s", []itemV1{{"A", 1}}), "s")
	wantMismatch(t, serr, `not stored: "Quantity"`)
	// An empty slice has no element to disagree with.
	_, _, _, serr = readBoth[[]itemRenamed](store(t, "s", []itemV1{}), "s")
	if serr != nil {
		t.Fatal(serr)
	}
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
			if err := setAny(p, v); err != nil {
				t.Fatal(err)
			}
			got, err := lookupAny(p, v, true)
			if err != nil {
				t.Fatalf("strict Lookup of %#v: %v", v, err)
			}
			want, _ := lookupAny(p, v, false)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("strict %#v, lenient %#v", got, want)
			}
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
	if strict {
		err = unmarshalStrict(p, "v", raw, dst.Interface())
	} else {
		err = unmarshal(p.dm, "v", raw, dst.Interface())
	}
	return dst.Elem().Interface(), err
}

func TestStrictKeyBasics(t *testing.T) {
	k := NewKey[itemV1]("item", Strict())
	if !k.IsStrict() || NewKey[itemV1]("item").IsStrict() {
		t.Fatal("IsStrict")
	}
	if got := k.String(); got != `codec.Key[codec.itemV1]("item", strict)` {
		t.Fatalf("String = %s", got)
	}
	// Set is the same for both kinds of key.
	p := NewPayload(testHeader())
	if err := k.Set(p, itemV1{"A", 1}); err != nil {
		t.Fatal(err)
	}
	if v, ok := k.Get(p); !ok || v != (itemV1{"A", 1}) {
		t.Fatalf("Get = %+v %v", v, ok)
	}
	// Limits apply to strict reads too.
	deep := store(t, "d", [][][][][][]int{{{{{{1}}}}}})
	deep.lim = (&Limits{MaxDepth: 4}).resolve()
	deep.dm, _ = decModeFor(deep.lim)
	_, err := NewKey[[][][][][][]int]("d", Strict()).Lookup(deep)
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("err = %v, want ErrLimit", err)
	}
}

// The error names fields, never stored values.
func TestStrictErrorsCarryNoValues(t *testing.T) {
	const secret = "s3cr3t-value-do-not-log"
	p := store(t, "item", itemAdded{SKU: secret, Qty: 1, Note: secret})
	_, err := NewKey[itemDropped]("item", Strict()).Lookup(p)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("err = %v", err)
	}
	p = store(t, "m", map[string]string{secret: secret})
	_, err = NewKey[itemV1]("m", Strict()).Lookup(p)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("err = %v", err)
	}
}
