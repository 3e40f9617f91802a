package codec

import (
	"bytes"
	"errors"
	"testing"
	"time"
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
