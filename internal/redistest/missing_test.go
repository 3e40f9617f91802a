package redistest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// recordingTB records Skip/Fatal instead of stopping the goroutine.
type recordingTB struct {
	testing.TB
	skipped, failed string
}

type stopped struct{}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Skip(args ...any) {
	r.skipped = toString(args)
	panic(stopped{})
}
func (r *recordingTB) Fatal(args ...any) {
	r.failed = toString(args)
	panic(stopped{})
}

func toString(args []any) string {
	var b strings.Builder
	for _, a := range args {
		if s, ok := a.(string); ok {
			b.WriteString(s)
		}
	}
	return b.String()
}

func callBinaries(tb *recordingTB) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(stopped); !ok {
				panic(r)
			}
		}
	}()
	binaries(tb, true)
}

func TestMissingBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())

	t.Setenv(RequireEnv, "")
	tb := &recordingTB{TB: t}
	callBinaries(tb)
	assert.Empty(t, tb.failed, "without %s: want a skip, not a failure", RequireEnv)
	assert.Contains(t, tb.skipped, "redis-server", "without %s: want a skip naming redis-server", RequireEnv)
	assert.Contains(t, tb.skipped, "not found", "without %s: want a skip naming redis-server", RequireEnv)

	t.Setenv(RequireEnv, "1")
	tb = &recordingTB{TB: t}
	callBinaries(tb)
	assert.Empty(t, tb.skipped, "with %s=1: want a failure, not a skip", RequireEnv)
	assert.Contains(t, tb.failed, RequireEnv+"=1", "with %s=1: want a failure", RequireEnv)
}

func TestRequireServer(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv(RequireEnv, "1")
	tb := &recordingTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(stopped); !ok {
					panic(r)
				}
			}
		}()
		RequireServer(tb)
	}()
	assert.Contains(t, tb.failed, "redis-server", "RequireServer without redis-server and %s=1: want a failure naming redis-server", RequireEnv)
}
