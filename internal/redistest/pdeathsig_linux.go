package redistest

import (
	"os/exec"
	"syscall"
)

// dieWithParent asks the kernel to SIGKILL the child when the process that
// started it dies, so a test binary killed by a timeout or a signal never
// leaves a redis-server behind. (The signal follows the starting OS thread;
// the Go runtime does not end its threads while the process lives, except
// for goroutines that lock one, which this package does not do.)
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
