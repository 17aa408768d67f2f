//go:build !unix && !windows

package opener

import "os/exec"

func command(string) (*exec.Cmd, error) { return nil, ErrUnsupported }

func detach(*exec.Cmd) {}
