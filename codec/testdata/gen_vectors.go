//go:build ignore

// gen_vectors writes the payload test vectors in testdata/vectors and the
// FuzzDecode seed corpus in testdata/fuzz/FuzzDecode. It builds every
// payload from SPEC.md ("Session payload") on its own: the header bytes
// by hand, the values with fxamacker/cbor's core deterministic encoding,
// without importing the codec package, so the vectors check the package
// against the spec.
//
// Run from the module root: go run ./codec/testdata/gen_vectors.go
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// header is the fixed binary header of SPEC.md, "Layout".
type header struct {
	version    byte
	flags      byte
	id         [16]byte
	issuedAt   int64 // unix ms, 0 for none
	lastSeen   int64
	generation uint32
	userEpoch  uint64
	userID     string
}

func (h header) bytes() []byte {
	if len(h.userID) > 255 {
		panic("user ID too long")
	}
	b := []byte{h.version, h.flags}
	b = append(b, h.id[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(h.issuedAt))
	b = binary.BigEndian.AppendUint64(b, uint64(h.lastSeen))
	b = binary.BigEndian.AppendUint32(b, h.generation)
	b = binary.BigEndian.AppendUint64(b, h.userEpoch)
	b = append(b, byte(len(h.userID)))
	return append(b, h.userID...)
}

// payload is a header and named values, each value its raw CBOR.
type payload struct {
	h      header
	values map[string][]byte
}

func newPayload(h header) *payload {
	h.version = 1
	return &payload{h: h, values: map[string][]byte{}}
}

// names returns the value names in wire order: ascending bytes.
func (p *payload) names() []string {
	var ns []string
	for n := range p.values {
		ns = append(ns, n)
	}
	sort.Strings(ns) // Go compares strings byte by byte
	return ns
}

// encode writes the payload: header, uvarint count, then each entry as
// name length, name, uvarint value length, value.
func (p *payload) encode() []byte {
	b := p.h.bytes()
	b = binary.AppendUvarint(b, uint64(len(p.values)))
	for _, n := range p.names() {
		if len(n) == 0 || len(n) > 64 {
			panic("bad name " + n)
		}
		b = append(b, byte(len(n)))
		b = append(b, n...)
		b = binary.AppendUvarint(b, uint64(len(p.values[n])))
		b = append(b, p.values[n]...)
	}
	return b
}

// encMode is SPEC.md's CBOR profile for writers: core deterministic
// encoding, times as untagged RFC 3339 text with nanoseconds.
var encMode = func() cbor.EncMode {
	eo := cbor.CoreDetEncOptions()
	eo.Time = cbor.TimeRFC3339Nano
	eo.TimeTag = cbor.EncTagNone
	em, err := eo.EncMode()
	must(err)
	return em
}()

func (p *payload) set(name string, v any) {
	raw, err := encMode.Marshal(v)
	must(err)
	p.values[name] = raw
}

// addFlash appends a flash message: "_flash" is a CBOR array of text strings.
func (p *payload) addFlash(msgs ...string) { p.set("_flash", msgs) }

type vector struct {
	name    string
	comment string
	expect  string
	limits  string // e.g. "max-size: 60"
	payload []byte
	p       *payload // decoded form, for success vectors
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
	testID  = [16]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	issued  = int64(1767225600000) // 2026-01-01T00:00:00Z, unix ms
	lastSee = int64(1767227400123) // 2026-01-01T00:30:00.123Z
)

func typical() *payload {
	p := newPayload(header{id: testID, issuedAt: issued, lastSeen: lastSee, generation: 2, userEpoch: 5, userID: "u-1842"})
	p.set("roles", []string{"admin", "editor"})
	csrf := make([]byte, 32)
	for i := range csrf {
		csrf[i] = byte(i)
	}
	p.set("csrf", csrf)
	p.addFlash("Saved successfully")
	p.set("cart", []cartItem{{"SKU-1001", 1, 1999}, {"SKU-2002", 2, 550}, {"SKU-3003", 1, 12000}})
	p.set("locale", "en-GB")
	return p
}

func main() {
	var vs []vector
	add := func(v vector) { vs = append(vs, v) }

	anon := newPayload(header{id: testID, issuedAt: issued, lastSeen: issued})
	add(vector{name: "anonymous_empty", comment: "anonymous session, no values", expect: "success", payload: anon.encode(), p: anon})

	zero := newPayload(header{})
	add(vector{name: "zero_header", comment: "zero header: zero times are written as 0", expect: "success", payload: zero.encode(), p: zero})

	typ := typical()
	typBytes := typ.encode()
	add(vector{name: "typical", comment: "the typical payload of the benchmarks", expect: "success", payload: typBytes, p: typ})

	big := newPayload(header{id: testID, issuedAt: issued, lastSeen: lastSee, generation: 0xfffffffe, userEpoch: 1 << 40, userID: "user@example.com"})
	big.set("note", strings.Repeat("x", 200))
	big.set("n", int64(-1))
	add(vector{name: "two_byte_length", comment: "a value longer than 127 bytes has a 2-byte uvarint length", expect: "success", payload: big.encode(), p: big})

	// A value whose raw bytes are not valid CBOR: Decode must still succeed
	// (values are decoded lazily); only asking for "bad" fails.
	lazy := newPayload(header{id: testID, issuedAt: issued, lastSeen: issued})
	lazy.set("good", "ok")
	lazy.values["bad"] = []byte{0xff} // a lone break byte
	add(vector{name: "lazy_malformed_value", comment: "value \"bad\" is not valid CBOR; the payload still decodes", expect: "success", payload: lazy.encode(), p: lazy})

	hdrLen := len(typ.h.bytes())
	values := typBytes[hdrLen:]
	hdr := typBytes[:hdrLen]
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	anonHdr := anon.h.bytes() // header only, no count

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
	mal("user_id_truncated", "header cut inside the user ID", typBytes[:47+2])
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
	add(vector{name: "count_limit_before_fit", comment: "count 17 with max-items 16 and no entries: the limit is checked before the fit", expect: "limit", limits: "max-items: 16", payload: cat(anonHdr, []byte{17})})
	add(vector{name: "max_items_floor_limit", comment: "17 values with max-items 1, which counts as 16", expect: "limit", limits: "max-items: 1", payload: many})
	floor := newPayload(header{id: testID, issuedAt: issued, lastSeen: issued})
	for i := 0; i < 16; i++ {
		floor.set("k"+string(rune('a'+i)), i)
	}
	add(vector{name: "max_items_floor", comment: "16 values with max-items 1, which counts as 16", expect: "success", limits: "max-items: 1", payload: floor.encode(), p: floor})

	// uvarints: ten bytes carry at most 64 bits.
	ones := bytes.Repeat([]byte{0xff}, 9)
	add(vector{name: "count_max_uint64", comment: "count 2^64-1 (a valid 10-byte uvarint) is over max-items", expect: "limit", payload: cat(anonHdr, ones, []byte{0x01})})
	mal("count_overflow_64", "count as a 10-byte uvarint whose last byte is 0x02: more than 64 bits", cat(anonHdr, ones, []byte{0x02}))
	mal("count_11_bytes", "count as an 11-byte uvarint", cat(anonHdr, ones, []byte{0x80, 0x01}))
	mal("value_length_overflow_64", "value length as a 10-byte uvarint of more than 64 bits", cat(anonHdr, []byte{0x01, 0x01, 'a'}, ones, []byte{0x02, 0x01}))

	// User IDs are bytes, not text.
	bin := newPayload(header{id: testID, issuedAt: issued, lastSeen: lastSee, generation: 1, userEpoch: 1, userID: "\x00a: b\n\xff"})
	add(vector{name: "user_id_binary", comment: "a user ID with a zero byte, \": \", a newline and a non-UTF-8 byte", expect: "success", payload: bin.encode(), p: bin})
	longID := newPayload(header{id: testID, issuedAt: issued, lastSeen: lastSee, generation: 1, userID: strings.Repeat("u", 255)})
	add(vector{name: "user_id_255", comment: "the longest user ID, 255 bytes", expect: "success", payload: longID.encode(), p: longID})

	// Times: untagged RFC 3339 text, shortest fraction, the value's own offset.
	times := newPayload(header{id: testID, issuedAt: issued, lastSeen: issued})
	times.set("t-frac", time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC))
	times.set("t-nano", time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC))
	times.set("t-offset", time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 2*3600+30*60)))
	times.set("t-whole", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	times.set("t-zero", time.Time{})
	add(vector{name: "times", comment: "time values: .12 fraction, nanoseconds, +02:30 offset, no fraction, zero time (null)", expect: "success", payload: times.encode(), p: times})

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
			h := v.p.h
			if !bytes.Equal(v.p.encode(), v.payload) {
				panic(v.name + ": the payload is not its fields' encoding")
			}
			fmt.Fprintf(&b, "version: %d\nflags: %d\nid: %x\n", h.version, h.flags, h.id)
			fmt.Fprintf(&b, "issued-at: %d\nlast-seen: %d\n", h.issuedAt, h.lastSeen)
			fmt.Fprintf(&b, "generation: %d\nuser-epoch: %d\n", h.generation, h.userEpoch)
			if h.userID == "" {
				b.WriteString("user-id-hex:\n") // an empty value: no space after the colon
			} else {
				fmt.Fprintf(&b, "user-id-hex: %x\n", h.userID)
			}
			for _, n := range v.p.names() {
				fmt.Fprintf(&b, "value: %s %x\n", n, v.p.values[n])
			}
		case v.expect == "unsupported version":
			fmt.Fprintf(&b, "version: %d\n", v.payload[0])
		}
		fmt.Fprintf(&b, "payload: %s\n", hex.EncodeToString(v.payload))
		must(os.WriteFile(filepath.Join(dir, v.name+".txt"), []byte(b.String()), 0o644))
		must(os.WriteFile(filepath.Join(fuzzDir, v.name), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", v.payload)), 0o644))
	}
}
