//go:build ignore

// gen_vectors writes the payload test vectors in testdata/vectors and the
// FuzzDecode seed corpus in testdata/fuzz/FuzzDecode. Run from the module
// root: go run ./codec/testdata/gen_vectors.go
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealedsession/sealedsession/codec"
)

type vector struct {
	name    string
	comment string
	expect  string
	limits  string // e.g. "max-size: 60"
	payload []byte
	p       *codec.Payload // decoded form, for success vectors
}

type cartItem struct {
	SKU        string
	Qty        int
	PriceCents int64
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

var (
	testID  = codec.SessionID{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	issued  = time.UnixMilli(1767225600000) // 2026-01-01T00:00:00Z
	lastSee = time.UnixMilli(1767227400123)
)

func typical() *codec.Payload {
	p := codec.NewPayload(codec.Header{ID: testID, IssuedAt: issued, LastSeen: lastSee, Generation: 2, UserEpoch: 5, UserID: "u-1842"})
	must(codec.NewKey[[]string]("roles").Set(p, []string{"admin", "editor"}))
	csrf := make([]byte, 32)
	for i := range csrf {
		csrf[i] = byte(i)
	}
	must(codec.NewKey[[]byte]("csrf").Set(p, csrf))
	p.AddFlash("Saved successfully")
	must(codec.NewKey[[]cartItem]("cart").Set(p, []cartItem{{"SKU-1001", 1, 1999}, {"SKU-2002", 2, 550}, {"SKU-3003", 1, 12000}}))
	must(codec.NewKey[string]("locale").Set(p, "en-GB"))
	return p
}

func main() {
	var vs []vector
	add := func(v vector) { vs = append(vs, v) }

	anon := codec.NewPayload(codec.Header{ID: testID, IssuedAt: issued, LastSeen: issued})
	add(vector{name: "anonymous_empty", comment: "anonymous session, no values", expect: "success", payload: anon.AppendEncode(nil), p: anon})

	zero := codec.NewPayload(codec.Header{})
	add(vector{name: "zero_header", comment: "zero header: zero times are written as 0", expect: "success", payload: zero.AppendEncode(nil), p: zero})

	typ := typical()
	typBytes := typ.AppendEncode(nil)
	add(vector{name: "typical", comment: "the typical payload of the benchmarks", expect: "success", payload: typBytes, p: typ})

	big := codec.NewPayload(codec.Header{ID: testID, IssuedAt: issued, LastSeen: lastSee, Generation: 0xfffffffe, UserEpoch: 1 << 40, UserID: "user@example.com"})
	must(codec.NewKey[string]("note").Set(big, strings.Repeat("x", 200)))
	must(codec.NewKey[int64]("n").Set(big, -1))
	add(vector{name: "two_byte_length", comment: "a value longer than 127 bytes has a 2-byte uvarint length", expect: "success", payload: big.AppendEncode(nil), p: big})

	// A value whose raw bytes are not valid CBOR: Decode must still succeed
	// (values are decoded lazily); only asking for "bad" fails.
	lazy := codec.NewPayload(codec.Header{ID: testID, IssuedAt: issued, LastSeen: issued})
	must(codec.NewKey[string]("good").Set(lazy, "ok"))
	lb := lazy.AppendEncode(nil)
	// Rebuild the values section with "bad" = 0xff (a lone break byte).
	hl := lazy.Header().EncodedLen()
	lb = append(lb[:hl], 0x02, 0x03, 'b', 'a', 'd', 0x01, 0xff, 0x04, 'g', 'o', 'o', 'd', 0x03, 0x62, 'o', 'k')
	lp, err := codec.Decode(lb, nil)
	must(err)
	add(vector{name: "lazy_malformed_value", comment: "value \"bad\" is not valid CBOR; the payload still decodes", expect: "success", payload: lb, p: lp})

	hdrLen := typ.Header().EncodedLen()
	values := typBytes[hdrLen:]
	hdr := typBytes[:hdrLen]
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	anonHdr := anon.AppendEncode(nil)
	anonHdr = anonHdr[:len(anonHdr)-1] // header only, no count

	v2 := bytes.Clone(typBytes)
	v2[0] = 2
	add(vector{name: "version_2", comment: "format version 2 is not known", expect: "unsupported version", payload: v2})
	v0 := bytes.Clone(typBytes)
	v0[0] = 0
	add(vector{name: "version_0", comment: "format version 0 is not known", expect: "unsupported version", payload: v0})

	mal := func(name, comment string, b []byte) {
		add(vector{name: name, comment: comment, expect: "malformed", payload: b})
	}
	mal("empty", "no bytes at all", []byte{})
	mal("header_truncated", "header cut inside the fixed part", typBytes[:30])
	mal("user_id_truncated", "header cut inside the user ID", typBytes[:codec.FixedHeaderSize+2])
	mal("no_count", "header without the value count", anonHdr)
	mal("count_non_minimal", "value count 0 written as a 2-byte uvarint", cat(anonHdr, []byte{0x80, 0x00}))
	mal("trailing_after_empty", "zero values followed by a byte", cat(anonHdr, []byte{0x00, 0x00}))
	mal("trailing_after_values", "a byte after the last value", cat(typBytes, []byte{0x00}))
	mal("count_too_high", fmt.Sprintf("count says %d values, %d follow", values[0]+1, values[0]), cat(hdr, []byte{values[0] + 1}, values[1:]))
	mal("truncated_value", "last value cut short", typBytes[:len(typBytes)-1])
	mal("names_unsorted", "names out of order", cat(anonHdr, []byte{0x02, 0x01, 'b', 0x01, 0x01, 0x01, 'a', 0x01, 0x01}))
	mal("names_duplicate", "the same name twice", cat(anonHdr, []byte{0x02, 0x01, 'a', 0x01, 0x01, 0x01, 'a', 0x01, 0x02}))
	mal("name_empty", "a zero-length name", cat(anonHdr, []byte{0x01, 0x00, 0x01, 0x01}))
	mal("name_space", "a name containing a space", cat(anonHdr, []byte{0x01, 0x03, 'a', ' ', 'b', 0x01, 0x01}))
	mal("name_control", "a name containing a control byte", cat(anonHdr, []byte{0x01, 0x02, 'a', 0x0a, 0x01, 0x01}))
	mal("name_non_ascii", "a name containing a non-ASCII byte", cat(anonHdr, []byte{0x01, 0x02, 'a', 0xc3, 0x01, 0x01}))
	long := append([]byte{0x01, 65}, bytes.Repeat([]byte{'a'}, 65)...)
	mal("name_too_long", "a 65-byte name", cat(anonHdr, long, []byte{0x01, 0x01}))
	mal("value_empty", "a zero-length value", cat(anonHdr, []byte{0x01, 0x01, 'a', 0x00}))
	mal("value_length_non_minimal", "value length 1 written as a 2-byte uvarint", cat(anonHdr, []byte{0x01, 0x01, 'a', 0x81, 0x00, 0x01}))
	mal("value_length_overflow", "a value length past the end", cat(anonHdr, []byte{0x01, 0x01, 'a', 0x05, 0x01}))

	add(vector{name: "too_large", comment: "payload longer than max-size", expect: "too large", limits: "max-size: 64", payload: typBytes})
	many := cat(anonHdr, []byte{17})
	for i := 0; i < 17; i++ {
		many = append(many, 0x02, 'k', 'a'+byte(i), 0x01, byte(i))
	}
	add(vector{name: "too_many_values", comment: "17 values with max-items 16", expect: "limit", limits: "max-items: 16", payload: many})

	dir := filepath.Join("codec", "testdata", "vectors")
	must(os.MkdirAll(dir, 0o755))
	fuzzDir := filepath.Join("codec", "testdata", "fuzz", "FuzzDecode")
	must(os.MkdirAll(fuzzDir, 0o755))
	for _, v := range vs {
		var b strings.Builder
		fmt.Fprintf(&b, "# %s\n", v.comment)
		fmt.Fprintf(&b, "expect: %s\n", v.expect)
		if v.limits != "" {
			fmt.Fprintf(&b, "%s\n", v.limits)
		}
		switch {
		case v.p != nil:
			h := v.p.Header()
			fmt.Fprintf(&b, "version: %d\nflags: %d\nid: %s\n", h.Version, h.Flags, h.ID)
			fmt.Fprintf(&b, "issued-at: %d\nlast-seen: %d\n", ms(h.IssuedAt), ms(h.LastSeen))
			fmt.Fprintf(&b, "generation: %d\nuser-epoch: %d\nuser-id: %s\n", h.Generation, h.UserEpoch, h.UserID)
			for _, n := range v.p.Names() {
				raw, _ := v.p.Raw(n)
				fmt.Fprintf(&b, "value: %s %x\n", n, raw)
			}
		case v.expect == "unsupported version":
			fmt.Fprintf(&b, "version: %d\n", v.payload[0])
		}
		fmt.Fprintf(&b, "payload: %s\n", hex.EncodeToString(v.payload))
		must(os.WriteFile(filepath.Join(dir, v.name+".txt"), []byte(b.String()), 0o644))
		must(os.WriteFile(filepath.Join(fuzzDir, v.name), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", v.payload)), 0o644))
	}
	_ = binary.BigEndian
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
