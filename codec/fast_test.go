package codec

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFastUnmarshalMatchesDecoder checks that the fast path gives exactly
// what the CBOR decoder gives, and declines what it would refuse.
func TestFastUnmarshalMatchesDecoder(t *testing.T) {
	values := []any{
		"", "en-GB", "ünïcødé", string(make([]byte, 300)), []byte{}, []byte("csrf-token-bytes"), make([]byte, 70000),
		true, false, uint64(0), uint64(23), uint64(24), uint64(255), uint64(256), uint64(65536), uint64(math.MaxUint64),
		int64(-1), int64(-24), int64(-25), int64(math.MinInt64), int64(math.MaxInt64), 0, -1000000, 1 << 40,
	}
	for _, v := range values {
		raw, err := encMode.Marshal(v)
		require.NoError(t, err)
		check := func(fast, slow any) {
			t.Helper()
			ok := fastUnmarshal(raw, fast)
			serr := defaultDecMode.Unmarshal(raw, slow)
			if ok {
				require.NoError(t, serr, "%T %x: fast path accepted what the decoder refuses", fast, raw)
				require.Equal(t, deref(slow), deref(fast), "%T %x: fast path against the decoder", fast, raw)
			}
		}
		var s1, s2 string
		check(&s1, &s2)
		var b1, b2 []byte
		check(&b1, &b2)
		var o1, o2 bool
		check(&o1, &o2)
		var u1, u2 uint64
		check(&u1, &u2)
		var i1, i2 int64
		check(&i1, &i2)
		var n1, n2 int
		check(&n1, &n2)
	}
	// Non-shortest and invalid forms are left to the decoder.
	for _, raw := range [][]byte{{0x18, 0x05}, {0x19, 0x00, 0x10}, {0x62, 0xff, 0xfe}, {0x7f}, {0x42, 'a'}, {0xf6}} {
		var s string
		var u uint64
		var b []byte
		require.False(t, fastUnmarshal(raw, &s) || fastUnmarshal(raw, &u) || fastUnmarshal(raw, &b), "fast path accepted %x", raw)
	}
}

func deref(v any) any {
	switch p := v.(type) {
	case *string:
		return *p
	case *[]byte:
		return string(*p)
	case *bool:
		return *p
	case *uint64:
		return *p
	case *int64:
		return *p
	case *int:
		return *p
	}
	return nil
}

func TestDecodeOwnedMatchesDecode(t *testing.T) {
	p := NewPayload(Header{UserID: "u-1842", Generation: 3})
	_ = NewKey[string]("locale").Set(p, "en-GB")
	_ = NewKey[[]int]("n").Set(p, []int{1, 2, 3})
	b := p.AppendEncode(nil)
	a, err := Decode(append([]byte(nil), b...), nil)
	require.NoError(t, err)
	o := new(Payload)
	require.NoError(t, DecodeOwnedInto(o, append([]byte(nil), b...), nil))
	// == on the headers, as their times must match to the location pointer.
	require.True(t, *a.Header() == *o.Header(), "DecodeOwnedInto differs from Decode: %+v, %+v", *a.Header(), *o.Header())
	require.Equal(t, string(a.AppendEncode(nil)), string(o.AppendEncode(nil)), "DecodeOwnedInto differs from Decode")
	v, ok := NewKey[string]("locale").Get(o)
	require.True(t, ok, "locale")
	require.Equal(t, "en-GB", v, "locale")
	assert.Error(t, DecodeOwnedInto(new(Payload), b[:len(b)-1], nil), "truncated payload accepted")
}
