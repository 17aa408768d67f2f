//go:build unix && !darwin

package opener

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// command returns the helper that opens uri: the first usable entry of
// $BROWSER, as xdg-utils reads it, else xdg-open.
func command(uri string) (*exec.Cmd, error) {
	if b := os.Getenv("BROWSER"); b != "" {
		if cmd := browserCommand(b, uri); cmd != nil {
			return cmd, nil
		}
	}
	p, err := exec.LookPath("xdg-open")
	if err != nil {
		return nil, fmt.Errorf("opener: no browser: $BROWSER is unset or not found and %w", err)
	}
	return exec.Command(p, uri), nil
}

// browserCommand reads $BROWSER the way xdg-open does: a colon-separated
// list of commands, each split into words on blanks (no quoting, no shell);
// "%s" in a word is replaced by uri, and without one uri is appended as the
// last argument. Where xdg-open runs entries until one succeeds, this takes
// the first whose program is on PATH, because Open does not wait for the
// browser to exit. It returns nil when no entry is usable.
func browserCommand(browser, uri string) *exec.Cmd {
	for entry := range strings.SplitSeq(browser, ":") {
		words := strings.Fields(entry)
		if len(words) == 0 {
			continue
		}
		p, err := exec.LookPath(words[0])
		if err != nil {
			continue
		}
		args := make([]string, 0, len(words))
		substituted := false
		for _, w := range words[1:] {
			if strings.Contains(w, "%s") {
				w = strings.ReplaceAll(w, "%s", uri)
				substituted = true
			}
			args = append(args, w)
		}
		if !substituted {
			args = append(args, uri)
		}
		return exec.Command(p, args...)
	}
	return nil
}

// detach starts the helper in a session of its own, so that a terminal's
// Ctrl-C or hang-up aimed at the agent does not reach the browser.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}
