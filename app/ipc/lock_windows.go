package ipc

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/windows"
)

// errLocked is lockFile's answer when another open file holds the lock.
var errLocked = errors.New("ipc: locked")

// lockFile opens (creating) path and locks its first byte exclusively
// without waiting (LockFileEx). Closing the result releases the lock; so
// does the death of the process. Go does not let child processes inherit
// the handle.
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
		lockErr = windows.LockFileEx(windows.Handle(fd),
			windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY,
			0, 1, 0, new(windows.Overlapped))
	}); err != nil {
		f.Close()
		return nil, err
	}
	if lockErr != nil {
		f.Close()
		if errors.Is(lockErr, windows.ERROR_LOCK_VIOLATION) {
			return nil, errLocked
		}
		return nil, lockErr
	}
	return f, nil
}
