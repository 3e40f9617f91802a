package reliability

import (
	"os/exec"
	"syscall"
)

// dieWithParent asks the kernel to SIGKILL the child (nginx, the demo) when
// the test binary dies, so a test killed by a timeout or a signal leaves
// no process behind.
// (The signal follows the OS thread that started it; the Go runtime keeps
// its threads while the process lives.)
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
