//go:build !linux

package reliability

import "os/exec"

// dieWithParent does nothing where the kernel offers no parent-death
// signal; the test's cleanup still stops the child when it ends normally.
func dieWithParent(*exec.Cmd) {}
