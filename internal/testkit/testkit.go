// Package testkit is the shared kit of the project's tests: a settable
// clock (the conformance suite's, storetest.Clock), a fresh key ring and
// the scale harnesses' size and heap reading. (Event recording for httpx lives in
// testkit/eventrec, so that packages below httpx can use this one.)
package testkit

import (
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/sealedsession/sealedsession/sealed"
	"github.com/sealedsession/sealedsession/versioning/storetest"
)

// Clock is the settable clock of the store conformance suite
// (storetest.Clock): safe for concurrent use, with Now, Advance and Set.
type Clock = storetest.Clock

// NewClock returns a clock at the current time (UTC, whole milliseconds,
// the precision of sealed times): near real time, so that stores that also
// consult the wall clock agree.
func NewClock() *Clock { return storetest.NewClock(time.Now().UTC().Truncate(time.Millisecond)) }

// NewClockAt returns a clock at t.
func NewClockAt(t time.Time) *Clock { return storetest.NewClock(t) }

// NewRing returns a key ring of one fresh key.
func NewRing(tb testing.TB) *sealed.Keyring {
	tb.Helper()
	k, err := sealed.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	ring, err := sealed.NewKeyring(k)
	if err != nil {
		tb.Fatal(err)
	}
	return ring
}

// ScaleEnv is the environment variable of the scale harnesses' size
// (users, revocations): small in CI, large in manual runs.
const ScaleEnv = "SEALEDSESSION_SCALE_N"

// ScaleN returns the size a scale harness runs at: ScaleEnv if set, def
// otherwise.
func ScaleN(tb testing.TB, def int) int {
	tb.Helper()
	v := os.Getenv(ScaleEnv)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		tb.Fatalf("%s=%q: want a positive number", ScaleEnv, v)
	}
	return n
}

// LiveHeap returns the bytes of live heap objects, after two collections
// (the second frees what the first only finalised).
func LiveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
