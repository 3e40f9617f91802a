package codec

// Compiled codecs: a fast path for the common composite value types.
//
// A value type T made only of the shapes below gets, once, a tree of small
// encode and decode functions over unsafe pointers and field offsets
// (compiledFor). Key.Set encodes with it and Key.Get/Lookup of a key that
// is not Strict decode with it, instead of the CBOR library's reflection.
//
// What is compiled:
//   - bool, string, and every int and uint kind but uintptr;
//   - []byte (a slice of exactly uint8), as a CBOR byte string;
//   - slices of compiled types, as CBOR arrays;
//   - for decoding only, maps with keys of a string kind and values of
//     compiled types, as CBOR maps (a type with a map encodes through the
//     library, which is faster at sorting map keys);
//   - structs of compiled types, as CBOR maps. A field is named as the
//     CBOR library names it: the cbor tag, else the json tag, else the
//     field name; "-" skips the field, as do unexported fields. The only
//     tag option allowed is keyasint, with a name that is the canonical
//     decimal form of an int.
//
// What falls back to the general path (the whole T, if found anywhere in
// it): any type that implements, on the value or the pointer, a
// marshaling interface the library honours (cbor, encoding Binary/Text,
// json; Marshaler or Unmarshaler), any type of the cbor package,
// time.Time and big.Int; floats (the encoder shortens them), pointers,
// maps with other keys, arrays, interfaces, channels and functions;
// recursive types; structs with an embedded field, a field named "_"
// (struct options), a tag option other than keyasint (omitempty, omitzero,
// toarray...), a name that is not valid UTF-8, or two fields whose names
// could be matched to each other by the decoder (equal, or equal ignoring
// case).
//
// Why the results are the library's own:
//   - Encoding writes what the library writes in encMode (core
//     deterministic): minimal heads; a struct as a map of all its fields
//     with the keys sorted bytewise by their encoded form (text keys
//     as text strings, keyasint keys as integers); a nil slice, []byte
//     included, as null; an empty one as a zero-length array or byte
//     string. The tests compare the bytes with encMode's for many types
//     and random values. Set's limit check (depth and element counts of
//     the payload's Limits) is done on the type and the slice lengths: a
//     value that would exceed them is left to the general path, which
//     reports the error.
//   - Decoding accepts only the exact form the encoder writes: the same
//     keys in the same order, every field present, map keys strictly
//     ascending (so none repeats), minimal heads, definite lengths,
//     valid UTF-8, integers in range of the Go type, counts and
//     nesting within the payload's Limits, and no trailing bytes. Such
//     bytes are well formed, have no duplicate keys and match every field
//     exactly by name, so the library decodes them into a zero T to the
//     same value. On anything else the fast path reports failure (it
//     never returns an error) and the general decoder runs, giving the
//     library's exact result or error. Strict keys keep the general path.
//
// Decoded strings of one value share one private copy of the value's
// bytes (never written after it is made); each []byte gets its own slice,
// since callers may modify it.

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/fxamacker/cbor/v2"
)

// encFunc appends the encoding of the value at p to dst. It reports false
// if the value must be left to the general encoder (an array longer than
// maxItems).
type encFunc func(dst []byte, p unsafe.Pointer, maxItems int) ([]byte, bool)

// decFunc decodes the next item of d into the zero value at p. It reports
// false when the bytes are not exactly what the encoder writes; p may then
// hold a partial value.
type decFunc func(d *decState, p unsafe.Pointer) bool

// decState is the input of one fast decode.
type decState struct {
	data     []byte
	off      int
	maxItems int
	arena    []byte // a private copy of data, made for the first string
}

// compiled is the fast codec of one type.
type compiled struct {
	enc encFunc // nil: no fast encoder (the type has a map)
	dec decFunc
	// depth is the deepest nesting of arrays and maps a value can have.
	depth int
	// fields is the largest field count of a struct in the type.
	fields int
}

// compiledCache maps a reflect.Type to its *compiled; a nil *compiled
// means the type has no fast path.
var compiledCache sync.Map

// compiledFor returns the fast codec of t, or nil if t has none.
func compiledFor(t reflect.Type) *compiled {
	if c, ok := compiledCache.Load(t); ok {
		return c.(*compiled)
	}
	c := compileType(t, map[reflect.Type]bool{})
	actual, _ := compiledCache.LoadOrStore(t, c)
	return actual.(*compiled)
}

// fits reports whether every value of the type is within lim's depth and
// struct size, so only array lengths need checking.
func (c *compiled) fits(lim *Limits) bool {
	return c.depth <= lim.MaxDepth && c.fields <= lim.MaxItems
}

// encode returns the encoding of the value at p in a new slice, or false
// if the general encoder must run.
func (c *compiled) encode(p unsafe.Pointer, lim *Limits) ([]byte, bool) {
	if c.enc == nil || !c.fits(lim) {
		return nil, false
	}
	bp := encBufs.Get().(*[]byte)
	buf, ok := c.enc((*bp)[:0], p, lim.MaxItems)
	var out []byte
	if ok {
		out = bytes.Clone(buf)
	}
	if cap(buf) <= maxPooledBuf {
		*bp = buf
		encBufs.Put(bp)
	}
	return out, ok
}

// encBufs holds the buffers compiled encoders write into.
var encBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// decode decodes raw into the zero value at p and reports whether it
// could; on false, p may hold a partial value.
func (c *compiled) decode(raw []byte, p unsafe.Pointer, lim *Limits) bool {
	if !c.fits(lim) {
		return false
	}
	d := decStates.Get().(*decState)
	*d = decState{data: raw, maxItems: lim.MaxItems}
	ok := c.dec(d, p) && d.off == len(raw)
	*d = decState{}
	decStates.Put(d)
	return ok
}

// decStates holds decoders' states: passed to the compiled functions
// through func values, one on the stack would escape.
var decStates = sync.Pool{New: func() any { return new(decState) }}

// Interfaces through which the CBOR library lets a type encode or decode
// itself; a type implementing any of them is left to the library.
var selfCodingIfaces = []reflect.Type{
	reflect.TypeFor[cbor.Marshaler](),
	reflect.TypeFor[cbor.Unmarshaler](),
	reflect.TypeFor[encoding.BinaryMarshaler](),
	reflect.TypeFor[encoding.BinaryUnmarshaler](),
	reflect.TypeFor[encoding.TextMarshaler](),
	reflect.TypeFor[encoding.TextUnmarshaler](),
	reflect.TypeFor[json.Marshaler](),
	reflect.TypeFor[json.Unmarshaler](),
}

var cborPkgPath = reflect.TypeFor[cbor.Tag]().PkgPath()

// special reports whether the library treats t other than by its kind.
func special(t reflect.Type) bool {
	if t == reflect.TypeFor[time.Time]() || t == reflect.TypeFor[big.Int]() || t.PkgPath() == cborPkgPath {
		return true
	}
	pt := reflect.PointerTo(t)
	for _, i := range selfCodingIfaces {
		if pt.Implements(i) {
			return true
		}
	}
	return false
}

// compileType builds the codec of t, or returns nil. busy holds the types
// being compiled, to refuse recursive types.
func compileType(t reflect.Type, busy map[reflect.Type]bool) *compiled {
	if busy[t] || special(t) {
		return nil
	}
	busy[t] = true
	defer delete(busy, t)
	switch t.Kind() {
	case reflect.Bool:
		return &compiled{enc: encBool, dec: decBool}
	case reflect.String:
		return &compiled{enc: encString, dec: decString}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return compileInt(t)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return compileUint(t)
	case reflect.Slice:
		if t.Elem() == reflect.TypeFor[uint8]() {
			return &compiled{enc: encBytes, dec: decBytes}
		}
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // a named byte type: a byte string too; not worth the care
		}
		return compileSlice(t, busy)
	case reflect.Struct:
		return compileStruct(t, busy)
	case reflect.Map:
		return compileMap(t, busy)
	}
	return nil
}

// appendHead appends a CBOR head in its shortest form.
func appendHead(dst []byte, major byte, arg uint64) []byte {
	m := major << 5
	switch {
	case arg < 24:
		return append(dst, m|byte(arg))
	case arg <= math.MaxUint8:
		return append(dst, m|24, byte(arg))
	case arg <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, m|25), uint16(arg))
	case arg <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, m|26), uint32(arg))
	}
	return binary.BigEndian.AppendUint64(append(dst, m|27), arg)
}

// head reads the next head of d in its shortest form, and checks that
// its major type is major.
func (d *decState) head(major byte) (uint64, bool) {
	if d.off >= len(d.data) {
		return 0, false
	}
	m, arg, n, ok := cborHead(d.data[d.off:])
	if !ok || m != major {
		return 0, false
	}
	d.off += n
	return arg, true
}

// null consumes a CBOR null if it comes next.
func (d *decState) null() bool {
	if d.off < len(d.data) && d.data[d.off] == 0xf6 {
		d.off++
		return true
	}
	return false
}

// payloadBytes consumes the n content bytes of a string.
func (d *decState) payloadBytes(n uint64) (int, bool) {
	if n > uint64(len(d.data)-d.off) {
		return 0, false
	}
	start := d.off
	d.off += int(n)
	return start, true
}

func encBool(dst []byte, p unsafe.Pointer, _ int) ([]byte, bool) {
	if *(*bool)(p) {
		return append(dst, 0xf5), true
	}
	return append(dst, 0xf4), true
}

func decBool(d *decState, p unsafe.Pointer) bool {
	if d.off >= len(d.data) {
		return false
	}
	switch d.data[d.off] {
	case 0xf4:
	case 0xf5:
		*(*bool)(p) = true
	default:
		return false
	}
	d.off++
	return true
}

func encString(dst []byte, p unsafe.Pointer, _ int) ([]byte, bool) {
	s := *(*string)(p)
	return append(appendHead(dst, 3, uint64(len(s))), s...), true
}

func decString(d *decState, p unsafe.Pointer) bool {
	n, ok := d.head(3)
	if !ok {
		return false
	}
	start, ok := d.payloadBytes(n)
	if !ok || !utf8.Valid(d.data[start:d.off]) {
		return false
	}
	if n == 0 {
		return true
	}
	if d.arena == nil {
		d.arena = bytes.Clone(d.data)
	}
	*(*string)(p) = unsafe.String(&d.arena[start], int(n))
	return true
}

func encBytes(dst []byte, p unsafe.Pointer, _ int) ([]byte, bool) {
	b := *(*[]byte)(p)
	if b == nil {
		return append(dst, 0xf6), true
	}
	return append(appendHead(dst, 2, uint64(len(b))), b...), true
}

func decBytes(d *decState, p unsafe.Pointer) bool {
	if d.null() {
		return true
	}
	n, ok := d.head(2)
	if !ok {
		return false
	}
	start, ok := d.payloadBytes(n)
	if !ok {
		return false
	}
	b := make([]byte, n)
	copy(b, d.data[start:d.off])
	*(*[]byte)(p) = b
	return true
}

// compileInt builds the codec of a signed integer kind.
func compileInt(t reflect.Type) *compiled {
	switch t.Bits() {
	case 8:
		return &compiled{enc: encInt[int8], dec: decInt[int8]}
	case 16:
		return &compiled{enc: encInt[int16], dec: decInt[int16]}
	case 32:
		return &compiled{enc: encInt[int32], dec: decInt[int32]}
	case 64:
		return &compiled{enc: encInt[int64], dec: decInt[int64]}
	}
	return nil
}

// compileUint builds the codec of an unsigned integer kind.
func compileUint(t reflect.Type) *compiled {
	switch t.Bits() {
	case 8:
		return &compiled{enc: encUint[uint8], dec: decUint[uint8]}
	case 16:
		return &compiled{enc: encUint[uint16], dec: decUint[uint16]}
	case 32:
		return &compiled{enc: encUint[uint32], dec: decUint[uint32]}
	case 64:
		return &compiled{enc: encUint[uint64], dec: decUint[uint64]}
	}
	return nil
}

// appendInt appends v as a CBOR integer (major type 0, or 1 for -1-arg).
func appendInt(dst []byte, v int64) []byte {
	if v >= 0 {
		return appendHead(dst, 0, uint64(v))
	}
	return appendHead(dst, 1, uint64(^v))
}

func encInt[I int8 | int16 | int32 | int64](dst []byte, p unsafe.Pointer, _ int) ([]byte, bool) {
	return appendInt(dst, int64(*(*I)(p))), true
}

func decInt[I int8 | int16 | int32 | int64](d *decState, p unsafe.Pointer) bool {
	if d.off >= len(d.data) {
		return false
	}
	limit := uint64(1)<<(8*unsafe.Sizeof(I(0))-1) - 1
	m, arg, n, ok := cborHead(d.data[d.off:])
	// A negative integer -1-arg fits exactly when arg <= limit.
	if !ok || m > 1 || arg > limit {
		return false
	}
	d.off += n
	if m == 0 {
		*(*I)(p) = I(arg)
	} else {
		*(*I)(p) = I(^int64(arg))
	}
	return true
}

func encUint[U uint8 | uint16 | uint32 | uint64](dst []byte, p unsafe.Pointer, _ int) ([]byte, bool) {
	return appendHead(dst, 0, uint64(*(*U)(p))), true
}

func decUint[U uint8 | uint16 | uint32 | uint64](d *decState, p unsafe.Pointer) bool {
	v, ok := d.head(0)
	if !ok || v > uint64(^U(0)) {
		return false
	}
	*(*U)(p) = U(v)
	return true
}

// sliceHeader is the memory layout of a Go slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// compileSlice builds the codec of a slice of a compiled type (not bytes).
func compileSlice(t reflect.Type, busy map[reflect.Type]bool) *compiled {
	elem := compileType(t.Elem(), busy)
	if elem == nil {
		return nil
	}
	size := t.Elem().Size()
	ee, ed := elem.enc, elem.dec
	var enc encFunc
	if ee != nil {
		enc = func(dst []byte, p unsafe.Pointer, maxItems int) ([]byte, bool) {
			s := (*sliceHeader)(p)
			if s.data == nil {
				return append(dst, 0xf6), true
			}
			if s.len > maxItems {
				return dst, false
			}
			dst = appendHead(dst, 4, uint64(s.len))
			ok := true
			for i := 0; i < s.len && ok; i++ {
				dst, ok = ee(dst, unsafe.Add(s.data, uintptr(i)*size), maxItems)
			}
			return dst, ok
		}
	}
	dec := func(d *decState, p unsafe.Pointer) bool {
		if d.null() {
			return true
		}
		n, ok := d.head(4)
		// Each element takes at least one byte.
		if !ok || n > uint64(d.maxItems) || n > uint64(len(d.data)-d.off) {
			return false
		}
		var data unsafe.Pointer
		if n == 0 {
			data = reflect.MakeSlice(t, 0, 0).UnsafePointer() // empty, not nil
		} else {
			// Grow allocates zeroed elements without the slice header
			// MakeSlice would allocate too; the capacity is then cut to
			// n, as MakeSlice would make it.
			reflect.NewAt(t, p).Elem().Grow(int(n))
			data = (*sliceHeader)(p).data
		}
		*(*sliceHeader)(p) = sliceHeader{data: data, len: int(n), cap: int(n)}
		for i := 0; i < int(n); i++ {
			if !ed(d, unsafe.Add(data, uintptr(i)*size)) {
				return false
			}
		}
		return true
	}
	return &compiled{enc: enc, dec: dec, depth: elem.depth + 1, fields: elem.fields}
}

// compileMap builds the decoder of a map with string keys and values of a
// compiled type. Maps have no fast encoder: ordering the pairs by their
// encoded keys costs more allocations than the library's own encoder
// (which has a fast path for map[string]string), so a type with a map
// encodes through the library.
func compileMap(t reflect.Type, busy map[reflect.Type]bool) *compiled {
	kt, et := t.Key(), t.Elem()
	if kt.Kind() != reflect.String || special(kt) {
		return nil
	}
	elem := compileType(et, busy)
	if elem == nil {
		return nil
	}
	ed := elem.dec
	dec := func(d *decState, p unsafe.Pointer) bool {
		if d.null() {
			return true
		}
		n, ok := d.head(5)
		// Each pair takes at least two bytes.
		if !ok || n > uint64(d.maxItems) || n > uint64(len(d.data)-d.off)/2 {
			return false
		}
		m := reflect.MakeMapWithSize(t, int(n))
		key := reflect.New(kt).Elem()
		val := reflect.New(et).Elem()
		var prev []byte
		for i := range n {
			keyStart := d.off
			if !decString(d, key.Addr().UnsafePointer()) {
				return false
			}
			// Keys strictly ascending, as the encoder writes them: no
			// duplicates.
			k := d.data[keyStart:d.off]
			if i > 0 && bytes.Compare(prev, k) >= 0 {
				return false
			}
			prev = k
			if !ed(d, val.Addr().UnsafePointer()) {
				return false
			}
			m.SetMapIndex(key, val)
			key.SetZero()
			val.SetZero()
		}
		reflect.NewAt(t, p).Elem().Set(m)
		return true
	}
	return &compiled{dec: dec, depth: elem.depth + 1, fields: elem.fields}
}

// structField is a compiled struct field.
type structField struct {
	key    []byte // the encoded map key
	offset uintptr
	enc    encFunc
	dec    decFunc
}

// compileStruct builds the codec of a struct of compiled types.
func compileStruct(t reflect.Type, busy map[reflect.Type]bool) *compiled {
	if _, ok := t.FieldByName("_"); ok {
		return nil // struct options (toarray...)
	}
	var fields []structField
	var names []string
	ints := map[int64]bool{}
	depth, maxFields := 0, 0
	canEncode := true
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			return nil
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("cbor")
		if tag == "" {
			tag = f.Tag.Get("json")
		}
		if tag == "-" {
			continue
		}
		name, opts, hasOpts := strings.Cut(tag, ",")
		keyAsInt := false
		if hasOpts {
			if opts != "keyasint" {
				return nil
			}
			keyAsInt = true
		}
		if name == "" {
			name = f.Name
		}
		var key []byte
		if keyAsInt {
			n, err := strconv.Atoi(name)
			if err != nil || strconv.Itoa(n) != name || ints[int64(n)] {
				return nil
			}
			ints[int64(n)] = true
			key = appendInt(nil, int64(n))
		} else {
			if !utf8.ValidString(name) {
				return nil
			}
			for _, other := range names {
				if strings.EqualFold(other, name) {
					return nil
				}
			}
			names = append(names, name)
			key = append(appendHead(nil, 3, uint64(len(name))), name...)
		}
		c := compileType(f.Type, busy)
		if c == nil {
			return nil
		}
		depth = max(depth, c.depth)
		maxFields = max(maxFields, c.fields)
		if c.enc == nil {
			canEncode = false
		}
		fields = append(fields, structField{key: key, offset: f.Offset, enc: c.enc, dec: c.dec})
	}
	slices.SortFunc(fields, func(a, b structField) int { return bytes.Compare(a.key, b.key) })
	head := appendHead(nil, 5, uint64(len(fields)))
	enc := func(dst []byte, p unsafe.Pointer, maxItems int) ([]byte, bool) {
		dst = append(dst, head...)
		ok := true
		for i := range fields {
			f := &fields[i]
			dst = append(dst, f.key...)
			if dst, ok = f.enc(dst, unsafe.Add(p, f.offset), maxItems); !ok {
				break
			}
		}
		return dst, ok
	}
	dec := func(d *decState, p unsafe.Pointer) bool {
		if !d.expect(head) {
			return false
		}
		for i := range fields {
			f := &fields[i]
			if !d.expect(f.key) || !f.dec(d, unsafe.Add(p, f.offset)) {
				return false
			}
		}
		return true
	}
	c := &compiled{enc: enc, dec: dec, depth: depth + 1, fields: max(maxFields, len(fields))}
	if !canEncode {
		c.enc = nil
	}
	return c
}

// expect consumes b if the input continues with it.
func (d *decState) expect(b []byte) bool {
	rest := d.data[d.off:]
	if len(rest) < len(b) {
		return false
	}
	for i, c := range b { // keys are short: a loop beats a call
		if rest[i] != c {
			return false
		}
	}
	d.off += len(b)
	return true
}
