//go:build !linux

package reliability

import "os/exec"

// dieWithParent does nothing where the kernel offers no parent-death
// signal; the test's cleanup still stops nginx when it ends normally.
func dieWithParent(*exec.Cmd) {}
