package reliability

import (
	"context"
	"net"
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sealedsession/sealedsession/internal/redistest"
)

// TestMultiInstanceScript runs scripts/multi-instance.sh: three demo
// processes on one Redis; log in on the first, log out everywhere on the
// second, the third refuses the old cookie. It then checks that the script
// stopped every process it started.
func TestMultiInstanceScript(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs three demo processes")
	}
	redistest.RequireServer(t)
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv(redistest.RequireEnv) == "1" {
			require.FailNow(t, "curl not found", "%v (%s=1 makes this a failure)", err, redistest.RequireEnv)
		}
		t.Skipf("curl not found: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "../scripts/multi-instance.sh")
	// On timeout, SIGTERM lets the script's trap stop what it started.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("script output:\n%s", out)
	require.NoError(t, err, "multi-instance.sh")
	text := string(out)
	for _, want := range []string{
		"instance 1 /api/session: authenticated=true",
		"instance 2 /api/session: authenticated=true",
		"instance 3 /api/session: authenticated=true",
		"HTTP 303: alice's epoch was bumped",
		"instance 3 /api/session: authenticated=false",
		"OK: logged in on 1, logged out everywhere on 2, refused on 3",
	} {
		assert.Contains(t, text, want, "script output")
	}
	// Nothing listens any more on the ports the script used.
	addrs := regexp.MustCompile(`127\.0\.0\.1:[0-9]+`).FindAllString(text, -1)
	require.GreaterOrEqual(t, len(addrs), 4, "addresses in the output: want redis + 3 demos")
	for _, a := range addrs {
		c, err := net.DialTimeout("tcp", a, time.Second)
		if err == nil {
			c.Close()
		}
		assert.Error(t, err, "%s still accepts connections after the script exited", a)
	}
}
