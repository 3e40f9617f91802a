package codec

import (
	"encoding/binary"
	"unicode/utf8"
)

// fastUnmarshal decodes the most common scalar values (strings, byte
// strings, booleans and integers) without going through the reflective
// CBOR decoder. It reports false when raw is anything else or dst is not
// one of those types, and the caller falls back to the full decoder, whose
// rules it must match exactly: it accepts only what the decoder would
// accept into the same type, with the same result.
func fastUnmarshal(raw []byte, dst any) bool {
	if len(raw) == 0 {
		return false
	}
	major, arg, n, ok := cborHead(raw)
	if !ok || n > len(raw) {
		return false
	}
	switch d := dst.(type) {
	case *string:
		if major != 3 || uint64(len(raw)-n) != arg || !utf8.Valid(raw[n:]) {
			return false
		}
		*d = string(raw[n:])
		return true
	case *[]byte:
		if major != 2 || uint64(len(raw)-n) != arg {
			return false
		}
		*d = make([]byte, len(raw)-n)
		copy(*d, raw[n:])
		return true
	case *bool:
		if len(raw) != 1 || (raw[0] != 0xf4 && raw[0] != 0xf5) {
			return false
		}
		*d = raw[0] == 0xf5
		return true
	case *uint64:
		if major != 0 || n != len(raw) {
			return false
		}
		*d = arg
		return true
	case *int64:
		v, ok := cborInt(major, arg, n, len(raw))
		if !ok {
			return false
		}
		*d = v
		return true
	case *int:
		v, ok := cborInt(major, arg, n, len(raw))
		if !ok || int64(int(v)) != v {
			return false
		}
		*d = int(v)
		return true
	}
	return false
}

// cborInt returns the int64 a CBOR major type 0 or 1 item encodes.
func cborInt(major byte, arg uint64, n, total int) (int64, bool) {
	if n != total || arg > 1<<63-1 {
		return 0, false
	}
	switch major {
	case 0:
		return int64(arg), true
	case 1:
		return -1 - int64(arg), true
	}
	return 0, false
}

// cborHead parses the initial byte and argument of a CBOR data item with
// a definite argument in its shortest form (as the deterministic encoder
// writes it). It returns the major type, the argument and the head's length.
func cborHead(b []byte) (major byte, arg uint64, n int, ok bool) {
	major = b[0] >> 5
	info := b[0] & 0x1f
	switch {
	case info < 24:
		return major, uint64(info), 1, true
	case info == 24 && len(b) >= 2:
		arg = uint64(b[1])
		return major, arg, 2, arg >= 24
	case info == 25 && len(b) >= 3:
		arg = uint64(binary.BigEndian.Uint16(b[1:]))
		return major, arg, 3, arg > 0xff
	case info == 26 && len(b) >= 5:
		arg = uint64(binary.BigEndian.Uint32(b[1:]))
		return major, arg, 5, arg > 0xffff
	case info == 27 && len(b) >= 9:
		arg = binary.BigEndian.Uint64(b[1:])
		return major, arg, 9, arg > 0xffffffff
	}
	return 0, 0, 0, false
}
