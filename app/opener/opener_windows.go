//go:build windows

package opener

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// command returns rundll32 url.dll,FileProtocolHandler URI: ShellExecute
// through the registered http/https handler, with no cmd.exe in between.
// rundll32 gets its arguments as one raw command line; Check admits no
// space or quote, so Go writes uri into it unquoted and unchanged.
func command(uri string) (*exec.Cmd, error) {
	root := os.Getenv("SystemRoot")
	if root == "" {
		root = `C:\Windows`
	}
	return exec.Command(filepath.Join(root, "System32", "rundll32.exe"), "url.dll,FileProtocolHandler", uri), nil
}

// detach hides the helper's console window, if it gets one.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{HideWindow: true}
}
