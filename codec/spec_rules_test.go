package codec

import (
	"bytes"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests below pin the CBOR reader rules that SPEC.md states
// ("Values" and "Limits" of the payload section), as the CBOR library
// applies them: what counts as nesting depth, the floors of the limits,
// which map keys are duplicates, and which time forms a reader accepts.

// lookupRaw stores raw under "v" in a payload decoded with lim and looks
// it up as a T.
func lookupRaw[T any](t *testing.T, raw []byte, lim *Limits) (T, error) {
	t.Helper()
	p := NewPayload(testHeader())
	require.NoError(t, p.setRaw("v", raw))
	q, err := Decode(p.AppendEncode(nil), lim)
	require.NoError(t, err)
	return NewKey[T]("v").Lookup(q)
}

func cborCat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestSpecDepthCounting(t *testing.T) {
	arrays := func(n int) []byte { return bytes.Repeat([]byte{0x81}, n) } // n nested one-element arrays
	tags := func(n int) []byte { return bytes.Repeat([]byte{0xc6}, n) }   // n chained tags (number 6)
	zero := []byte{0x00}
	cases := []struct {
		name string
		raw  []byte
		lim  *Limits
		ok   bool
	}{
		{"16 arrays", cborCat(arrays(16), zero), nil, true},
		{"17 arrays", cborCat(arrays(17), zero), nil, false},
		{"15 arrays and a map", cborCat(arrays(15), []byte{0xa1, 0x00, 0x00}), nil, true},
		{"16 arrays and a map", cborCat(arrays(16), []byte{0xa1, 0x00, 0x00}), nil, false},
		{"a map key nested 16 deep", cborCat([]byte{0xa1}, arrays(15), zero, zero), nil, true},
		{"a map key nested 17 deep", cborCat([]byte{0xa1}, arrays(16), zero, zero), nil, false},
		// A tag adds no level; each tag whose content is another tag adds one.
		{"16 arrays, 1 tag", cborCat(arrays(16), tags(1), zero), nil, true},
		{"16 arrays, 2 chained tags", cborCat(arrays(16), tags(2), zero), nil, false},
		{"1 tag, 16 arrays", cborCat(tags(1), arrays(16), zero), nil, true},
		{"2 chained tags, 16 arrays", cborCat(tags(2), arrays(16), zero), nil, false},
		{"tag per array, 16 arrays", cborCat(bytes.Repeat([]byte{0xc6, 0x81}, 16), zero), nil, true},
		{"17 chained tags", cborCat(tags(17), zero), nil, true},
		{"18 chained tags", cborCat(tags(18), zero), nil, false},
		// MaxDepth below 4 counts as 4.
		{"4 arrays, MaxDepth 1", cborCat(arrays(4), zero), &Limits{MaxDepth: 1}, true},
		{"5 arrays, MaxDepth 1", cborCat(arrays(5), zero), &Limits{MaxDepth: 1}, false},
		{"5 arrays, MaxDepth 5", cborCat(arrays(5), zero), &Limits{MaxDepth: 5}, true},
		{"6 arrays, MaxDepth 5", cborCat(arrays(6), zero), &Limits{MaxDepth: 5}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// RawMessage: the depth check is the same whatever the
			// target, and arrays as map keys have no Go map type.
			_, err := lookupRaw[cbor.RawMessage](t, c.raw, c.lim)
			if c.ok {
				assert.NoError(t, err, "refused")
			} else {
				assert.ErrorIs(t, err, ErrLimit)
			}
		})
	}
}

func TestSpecItemsFloor(t *testing.T) {
	array := func(n int) []byte { return append([]byte{0x98, byte(n)}, make([]byte, n)...) }
	mapOf := func(n int) []byte {
		b := []byte{0xb8, byte(n)}
		for i := 0; i < n; i++ {
			b = append(b, byte(i), 0x00) // keys 0..n-1 (n <= 23)
		}
		return b
	}
	lim := &Limits{MaxItems: 2} // counts as 16
	for _, c := range []struct {
		name string
		raw  []byte
		ok   bool
	}{
		{"array of 16", array(16), true},
		{"array of 17", array(17), false},
		{"map of 16 pairs", mapOf(16), true},
		{"map of 17 pairs", mapOf(17), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := lookupRaw[any](t, c.raw, lim)
			if c.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrLimit)
			}
		})
	}
}

func TestSpecDuplicateMapKeys(t *testing.T) {
	type line struct{ Qty int }
	// 1 and 1 written in a longer form (0x18 0x01) decode to equal keys.
	intDup := []byte{0xa2, 0x01, 0x00, 0x18, 0x01, 0x00}
	_, err := lookupRaw[map[int]int](t, intDup, nil)
	assert.ErrorIs(t, err, ErrType, "map[int]int with keys 1 and 0x18 0x01: want a duplicate-key error")
	_, err = lookupRaw[any](t, intDup, nil)
	assert.Error(t, err, "any with keys 1 and 0x18 0x01: accepted")
	// "qty" and "Qty" are different map keys, but select the same field.
	caseDup := []byte{0xa2, 0x63, 'Q', 't', 'y', 0x01, 0x63, 'q', 't', 'y', 0x02}
	m, err := lookupRaw[map[string]int](t, caseDup, nil)
	assert.NoError(t, err, "map[string]int with keys Qty and qty")
	assert.Len(t, m, 2, "map[string]int with keys Qty and qty: want both kept")
	_, err = lookupRaw[line](t, caseDup, nil)
	assert.ErrorIs(t, err, ErrType, "struct with keys Qty and qty: want a duplicate-key error")
}

func TestSpecTimeReaders(t *testing.T) {
	want := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	text := append([]byte{0x74}, "2026-01-02T03:04:05Z"...)
	secs := []byte{0x1a, 0x69, 0x57, 0x35, 0xa5} // 1767323045
	for _, c := range []struct {
		name string
		raw  []byte
		want time.Time
	}{
		{"text", text, want},
		{"tag 0 text", append([]byte{0xc0}, text...), want},
		{"integer seconds", secs, want},
		{"tag 1 integer seconds", append([]byte{0xc1}, secs...), want},
		{"float seconds", []byte{0xfb, 0x41, 0xda, 0x55, 0xcd, 0x69, 0x60, 0x00, 0x00}, want.Add(500 * time.Millisecond)},
		{"null", []byte{0xf6}, time.Time{}},
		{"undefined", []byte{0xf7}, time.Time{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := lookupRaw[time.Time](t, c.raw, nil)
			require.NoError(t, err)
			assert.True(t, got.Equal(c.want), "got %v; want %v", got, c.want)
		})
	}
}

func TestSpecReaderAcceptsNonDeterministic(t *testing.T) {
	n, err := lookupRaw[int](t, []byte{0x18, 0x01}, nil)
	assert.NoError(t, err, "1 as 0x18 0x01")
	assert.Equal(t, 1, n, "1 as 0x18 0x01")
	s, err := lookupRaw[string](t, []byte{0x78, 0x01, 'a'}, nil)
	assert.NoError(t, err, "a text string with a longer length form")
	assert.Equal(t, "a", s, "a text string with a longer length form")
	m, err := lookupRaw[map[int]int](t, []byte{0xa2, 0x02, 0x00, 0x01, 0x00}, nil)
	assert.NoError(t, err, "map keys out of order")
	assert.Len(t, m, 2, "map keys out of order")
	f, err := lookupRaw[float64](t, []byte{0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, nil)
	assert.NoError(t, err, "1.5 as a float64")
	assert.Equal(t, 1.5, f, "1.5 as a float64")
}
