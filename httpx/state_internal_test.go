package httpx

import (
	"testing"
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
