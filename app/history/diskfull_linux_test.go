//go:build linux

package history

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func init() { children["diskfull"] = childDiskFull }

// exitSkip is a child's exit code for "cannot run here".
const exitSkip = 3

// TestDiskFullTmpfs fills a real file system: a child process in a mount
// namespace of its own (so nothing outside sees the mount, and it goes
// with the child) mounts a 256 KiB tmpfs, adds to a history on it until a
// write fails, and checks the error, the entries and that the history
// works again once there is room. It needs root.
func TestDiskFullTmpfs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	cmd := childCommand("diskfull", childPathEnv+"="+t.TempDir())
	cmd.Stderr = nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	var xe *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &xe) && xe.ExitCode() == exitSkip:
		t.Skipf("cannot mount a tmpfs here: %s", out)
	case errors.Is(err, syscall.EPERM):
		t.Skipf("no mount namespace: %v", err)
	default:
		t.Errorf("child: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(line, "FAIL") {
			t.Error(line)
		} else {
			t.Log(line)
		}
	}
}

func childDiskFull() int {
	ctx := context.Background()
	dir := os.Getenv(childPathEnv)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k,mode=0700"); err != nil {
		fmt.Println("mount:", err)
		return exitSkip
	}
	path := filepath.Join(dir, "xpush", "history.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		fmt.Println("FAIL open:", err)
		return 1
	}
	var added []string
	var addErr error
	for i := range 1000 {
		e := entry(fmt.Sprintf("iq:%d", i), time.Now())
		e.Message = strings.Repeat("full disk ", 400)
		ok, err := s.Add(ctx, e)
		if err != nil {
			addErr = err
			break
		}
		if ok {
			added = append(added, e.Key)
		}
	}
	failed := false
	fail := func(format string, args ...any) {
		fmt.Printf("FAIL "+format+"\n", args...)
		failed = true
	}
	fmt.Printf("added %d entries, then: %v\n", len(added), addErr)
	switch {
	case addErr == nil:
		fail("1000 entries of 4 KB fitted in 256 KiB")
	case !errors.Is(addErr, ErrDiskFull):
		fail("Add error does not wrap ErrDiskFull: %v", addErr)
	case !strings.HasPrefix(addErr.Error(), "history: the disk is full"):
		fail("Add error %q does not start with the sentence", addErr)
	}
	check := func(s *Store, when string) {
		for _, k := range added {
			if _, err := s.Get(ctx, k); err != nil {
				fail("%s: Get(%s): %v", when, k, err)
				return
			}
		}
		var ok string
		if err := s.r.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
			fail("%s: integrity_check = %q, %v", when, ok, err)
		}
	}
	check(s, "on the full disk")
	if err := s.Close(); err != nil {
		fmt.Println("close on the full disk:", err) // a checkpoint may not fit: the WAL stays
	}

	// Make room and open again: nothing lost, and Add works.
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, "size=8m,mode=0700"); err != nil {
		fail("remount: %v", err)
		return 1
	}
	s, err = Open(ctx, path, Options{})
	if err != nil {
		fail("reopen: %v", err)
		return 1
	}
	defer s.Close()
	check(s, "after making room")
	if ok, err := s.Add(ctx, entry("iq:after", time.Now())); err != nil || !ok {
		fail("Add after making room = %v, %v", ok, err)
	}
	if failed {
		return 1
	}
	fmt.Println("reopened after making room: all entries there")
	return 0
}
