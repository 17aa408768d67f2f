//go:build unix

package ipc

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPermissions(t *testing.T) {
	path := sockPath(t)
	dir := filepath.Dir(path)
	// An existing folder that others may read is tightened.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	srv, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", p, got, want)
		}
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Type() != os.ModeSocket {
		t.Errorf("%s is %v, not a socket", path, fi.Mode())
	}
}

func TestListenDirIsFile(t *testing.T) {
	path := sockPath(t)
	if err := os.WriteFile(filepath.Dir(path), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if srv, err := Listen(path); err == nil {
		srv.Close()
		t.Fatal("Listen under a file succeeded")
	}
}
