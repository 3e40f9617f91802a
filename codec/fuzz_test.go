package codec

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzDecode checks that Decode never panics, fails only with this
// package's errors, and that a payload it accepts re-encodes to exactly the
// input (the format is canonical) and decodes again to the same thing.
// Reading every value through keys of several types must not panic either.
// The seed corpus is in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	p := NewPayload(testHeader())
	_ = NewKey[[]string]("roles").Set(p, []string{"admin", "editor"})
	_ = NewKey[time.Time]("t").Set(p, time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC))
	p.AddFlash("hello")
	f.Add(p.AppendEncode(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := &Limits{MaxItems: 64, MaxDepth: 8}
		p, err := Decode(b, lim)
		if err != nil {
			if p != nil {
				t.Fatal("payload returned with an error")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedVersion) &&
				!errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrLimit) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		out := p.AppendEncode(nil)
		if !bytes.Equal(out, b) {
			t.Fatalf("decode/encode not stable:\n in %x\nout %x", b, out)
		}
		if p.EncodedLen() != len(out) {
			t.Fatalf("EncodedLen %d, wrote %d", p.EncodedLen(), len(out))
		}
		q, err := Decode(out, lim)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !bytes.Equal(q.AppendEncode(nil), out) {
			t.Fatal("second round trip differs")
		}
		for _, name := range p.Names() {
			if name == flashName {
				continue
			}
			readAll(t, p, name)
		}
		p.Flashes()
	})
}

// readAll reads one value through keys of many types; errors are fine,
// panics and wrong error kinds are not.
func readAll(t *testing.T, p *Payload, name string) {
	k := Key[any]{name: name}
	check := func(err error) {
		if err != nil && !errors.Is(err, ErrType) {
			t.Fatalf("Lookup(%q) err = %v, want ErrType", name, err)
		}
	}
	_, err := k.Lookup(p)
	check(err)
	_, err = Key[string]{name: name}.Lookup(p)
	check(err)
	_, err = Key[int64]{name: name}.Lookup(p)
	check(err)
	_, err = Key[[]string]{name: name}.Lookup(p)
	check(err)
	_, err = Key[map[string]any]{name: name}.Lookup(p)
	check(err)
	_, err = Key[[]cartItem]{name: name}.Lookup(p)
	check(err)
	_, err = Key[*profile]{name: name}.Lookup(p)
	check(err)
	_, err = Key[time.Time]{name: name}.Lookup(p)
	check(err)
	_, err = Key[[]byte]{name: name}.Lookup(p)
	check(err)
}

// FuzzValue feeds arbitrary bytes to the value decoders directly.
func FuzzValue(f *testing.F) {
	for _, seed := range [][]byte{{0x01}, {0xff}, {0x82, 0x61, 'a', 0x01}, {0xa2, 0x61, 'a', 0x01, 0x61, 'a', 0x02}, {0xc1, 0x1a, 0, 0, 0, 1}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) == 0 {
			return
		}
		p := NewPayload(Header{})
		p.setRaw("v", raw)
		readAll(t, p, "v")
		p.setRaw(flashName, raw)
		p.Flashes()
	})
}

// FuzzStrict feeds arbitrary bytes to strict keys of several types. A
// strict read never panics and fails only with ErrType (ErrSchemaMismatch
// and ErrLimit included); when it succeeds, a lenient read of the same
// type gives the same value, and that value encodes back to exactly the
// stored bytes (which is what strict promises).
func FuzzStrict(f *testing.F) {
	for _, v := range []any{
		cartItem{"A", 1, 2}, []cartItem{{"A", 1, 2}}, itemV1{"A", 1}, itemOptional{"A", 1, "n"},
		nestedV1{Items: []itemV1{{"B", 2}}, Ptr: &itemV1{}}, map[string]any{"SKU": "A", "Qty": 1.5},
		profile{Name: "x", Seen: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)},
	} {
		raw, err := encMode.Marshal(v)
		require.NoError(f, err)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) == 0 {
			return
		}
		p := NewPayload(Header{})
		p.dec, _ = decodingFor(Limits{MaxDepth: 8, MaxItems: 64, MaxSize: DefaultMaxSize})
		p.setRaw("v", raw)
		strictRead[cartItem](t, p, raw)
		strictRead[[]cartItem](t, p, raw)
		strictRead[itemOptional](t, p, raw)
		strictRead[itemEmbedded](t, p, raw)
		strictRead[nestedV1](t, p, raw)
		strictRead[*profile](t, p, raw)
		strictRead[map[string]itemV1](t, p, raw)
		strictRead[any](t, p, raw)
		strictRead[string](t, p, raw)
		strictRead[int64](t, p, raw)
	})
}

func strictRead[T any](t *testing.T, p *Payload, raw []byte) {
	t.Helper()
	v, err := NewKey[T]("v", Strict()).Lookup(p)
	if err != nil {
		if !errors.Is(err, ErrType) {
			t.Fatalf("strict %T: err = %v, want ErrType", v, err)
		}
		return
	}
	back, err := encMode.Marshal(v)
	if err != nil || !bytes.Equal(back, raw) {
		t.Fatalf("strict %T read %x, which encodes to %x (%v)", v, raw, back, err)
	}
	// The same value as a lenient read (compared encoded: NaN != NaN).
	l, err := NewKey[T]("v").Lookup(p)
	if lb, _ := encMode.Marshal(l); err != nil || !bytes.Equal(lb, back) {
		t.Fatalf("strict %T read %#v, lenient %#v, %v", v, v, l, err)
	}
}
