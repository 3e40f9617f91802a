package reliability

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/httpx"
	"github.com/sealedsession/sealedsession/internal/testkit"
	"github.com/sealedsession/sealedsession/versioning"
)

// TestBusySessionLastsUntilAbsolute is a regression test for a renewal
// gap found by TestDeadlinesRealClock: a session used every 251 ms with
// idle 2s, absolute 5s and RenewThreshold 500ms must stay logged in until
// its absolute deadline. versioning.Checker.CheckAt renews only when the
// absolute-capped idle deadline would move by more than RenewThreshold; in
// the last stretch before the absolute deadline the capped deadline can
// move by at most abs-(LastSeen+idle), which can stay at or below the
// threshold for good, so the session is never renewed again and expires as
// idle_expired up to RenewThreshold (1 minute with the defaults) before its
// absolute deadline, however busy the user is.
func TestBusySessionLastsUntilAbsolute(t *testing.T) {
	clk := testkit.NewClockAt(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	x := newHX(t, httpx.Config{Keys: testRing(t), Policy: versioning.Policy{IdleTimeout: 2 * time.Second, AbsoluteTimeout: 5 * time.Second, RenewThreshold: 500 * time.Millisecond, Now: clk.Now}})
	jar := map[string]string{}
	x.call(t, "/login?user=alice", jar)
	clk.Advance(90 * time.Millisecond)
	elapsed := 90 * time.Millisecond
	for elapsed+251*time.Millisecond < 5*time.Second {
		clk.Advance(251 * time.Millisecond)
		elapsed += 251 * time.Millisecond
		u, r, _ := x.call(t, "/", jar)
		require.Equal(t, "alice", u, "busy session refused %v after login (absolute 5s) with reason %q", elapsed, r)
	}
}
