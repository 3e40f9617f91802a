package redistest

import (
	"strings"
	"testing"
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
	if tb.failed != "" || !strings.Contains(tb.skipped, "redis-server") || !strings.Contains(tb.skipped, "not found") {
		t.Errorf("without %s: skipped %q, failed %q; want a skip naming redis-server", RequireEnv, tb.skipped, tb.failed)
	}

	t.Setenv(RequireEnv, "1")
	tb = &recordingTB{TB: t}
	callBinaries(tb)
	if tb.skipped != "" || !strings.Contains(tb.failed, RequireEnv+"=1") {
		t.Errorf("with %s=1: skipped %q, failed %q; want a failure", RequireEnv, tb.skipped, tb.failed)
	}
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
	if !strings.Contains(tb.failed, "redis-server") {
		t.Errorf("RequireServer without redis-server and %s=1: failed %q, want a failure naming redis-server", RequireEnv, tb.failed)
	}
}
