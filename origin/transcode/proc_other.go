//go:build !linux

package transcode

import "os/exec"

// dieWithParent is a no-op where the kernel offers no parent-death signal; ctx cancellation still kills the tool.
func dieWithParent(*exec.Cmd) {}
