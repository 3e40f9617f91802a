package redistest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestNoOrphanWhenTestBinaryDies runs this test binary again as a child
// that starts a redis-server and then hangs; the child is SIGKILLed (as
// go test's -timeout or a CI runner would) and the redis-server it started
// must die with it.
func TestNoOrphanWhenTestBinaryDies(t *testing.T) {
	if os.Getenv("REDISTEST_ORPHAN_CHILD") == "1" {
		s := Start(t)
		fmt.Printf("pid %d\n", s.cmd.Process.Pid)
		time.Sleep(time.Minute) // killed by the parent long before
		return
	}
	RequireServer(t)
	child := exec.Command(os.Args[0], "-test.run=^TestNoOrphanWhenTestBinaryDies$", "-test.v")
	child.Env = append(os.Environ(), "REDISTEST_ORPHAN_CHILD=1")
	out, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	// On any failure below the child goes too (and with it, by the
	// parent-death signal, its redis-server); on success it is killed
	// on purpose first.
	killChild := sync.OnceFunc(func() { _ = child.Process.Kill(); _ = child.Wait() })
	t.Cleanup(killChild)
	pid := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "pid "); ok {
			pid, _ = strconv.Atoi(p)
			break
		}
	}
	require.NotZero(t, pid, "child never reported its redis-server")
	require.NoError(t, syscall.Kill(pid, 0), "redis-server %d not running while its parent lives", pid)
	killChild()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			require.Failf(t, "redis-server outlived its killed parent", "pid %d", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs. A zombie (dead, not yet reaped by an
// init that may not reap at all in a container) counts as dead.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
