//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package ipc

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// errLocked is lockFile's answer when another open file holds the lock.
var errLocked = errors.New("ipc: locked")

// lockFile opens (creating) path and locks it exclusively without
// waiting (flock). Closing the result releases the lock; so does the
// death of the process. The descriptor is close-on-exec, so a child
// process does not inherit the lock.
func lockFile(path string) (io.Closer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	var lockErr error
	if err := raw.Control(func(fd uintptr) {
		lockErr = unix.Flock(int(fd), unix.LOCK_EX|unix.LOCK_NB)
	}); err != nil {
		f.Close()
		return nil, err
	}
	if lockErr != nil {
		f.Close()
		if errors.Is(lockErr, unix.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, lockErr
	}
	return f, nil
}
