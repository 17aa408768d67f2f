//go:build darwin

package opener

import (
	"os/exec"
	"syscall"
)

// command returns /usr/bin/open with uri as its only argument; LaunchServices
// hands it to the default browser.
func command(uri string) (*exec.Cmd, error) {
	return exec.Command("/usr/bin/open", uri), nil
}

// detach starts the helper in a session of its own.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}
