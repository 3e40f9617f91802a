package httpx

import (
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// TestStateSize keeps the per-request state, the middleware's one
// allocation, within the 1408-byte size class of Go's allocator (with the
// 8-byte header Go adds to a pointerful object over 512 bytes): every byte
// of it is allocated, zeroed and scanned on every request. Growing a
// field past this means shrinking the inline plaintext buffer (pt), whose
// overflow costs a second allocation only for sessions above its size.
func TestStateSize(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(state{}), uintptr(1408-8))
	// The typical session of the benchmarks (about 260 bytes of
	// plaintext) and then some fit the inline buffer.
	assert.GreaterOrEqual(t, len(state{}.pt), 400)
	// The plaintext buffer is the state's tail, outside the part the
	// garbage collector scans.
	assert.Equal(t, unsafe.Sizeof(state{})-uintptr(len(state{}.pt)), unsafe.Offsetof(state{}.pt))
}

// TestTruncateMs: truncateMs agrees with Truncate(time.Millisecond) on
// times before and after the epoch, in other locations, on exact
// milliseconds and with a monotonic reading (which both drop).
func TestTruncateMs(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*3600)
	now := time.Now()
	for _, tm := range []time.Time{
		now, now.In(tokyo), now.Add(time.Nanosecond),
		time.Unix(0, 0), time.Unix(-1, 999_999_999), time.Unix(-1, 1), time.Unix(1700000000, 123_456_789).In(tokyo),
		time.Date(1, 1, 1, 0, 0, 0, 999_999, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
	} {
		want := tm.Truncate(time.Millisecond)
		got := truncateMs(tm)
		assert.True(t, want.Equal(got), "truncateMs(%v) = %v, want %v", tm, got, want)
		assert.Equal(t, want.Location(), got.Location(), "location of %v", tm)
		assert.Equal(t, want.String(), got.String(), "no monotonic reading left (%v)", tm)
	}
}
