package transcode

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the tool if the worker dies: a worker killed mid-job (a Spot instance taken
// back, SIGKILL) must not leave an ffmpeg running on for minutes.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
