//go:build unix

package ipc

import (
	"fmt"
	"os"
	"syscall"
)

// prepareDir makes dir, and its missing parents, with mode 0700, and makes
// sure that dir is a directory of this user that nobody else may enter.
func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int64(st.Uid) != int64(os.Geteuid()) {
		return fmt.Errorf("%s belongs to user %d, not to this one", dir, st.Uid)
	}
	if fi.Mode().Perm() != 0o700 {
		return os.Chmod(dir, 0o700)
	}
	return nil
}

// restrictSocket gives the socket file mode 0600.
func restrictSocket(path string) error { return os.Chmod(path, 0o600) }
