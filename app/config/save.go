package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/BurntSushi/toml"
)

// header starts every file Save writes.
const header = `# xpush agent configuration, written by xpush.
# The account's password is not here: it is in the system keyring.

`

// Save writes c to path atomically: to a temporary file in the same
// directory (mode 0600), synced to disk, then renamed over path, and the
// directory synced, so a crash or a full disk leaves the old file or the
// new one whole. It creates the directory with mode 0700 if needed.
func Save(path string, c Config) error {
	var b bytes.Buffer
	b.WriteString(header)
	if err := toml.NewEncoder(&b).Encode(toFile(c)); err != nil {
		return fmt.Errorf("config: encode: %w", err)
	}
	return writeAtomic(path, b.Bytes())
}

// writeAtomic replaces path with data (mode 0600) through a synced
// temporary file and a rename.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("config: create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes the file 0600 already; Chmod says so where a
	// platform's default differs.
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable where the platform allows it (a
// directory cannot be opened for syncing on Windows; its renames are
// durable through the file system's journal). Failures are ignored: the
// file's own data is already on disk.
func syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}

// Keep copies the file at path, as it is, to path+".broken" (mode 0600),
// so that replacing a file Load could not read loses nothing the user
// wrote. It returns the copy's path.
func Keep(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("config: keep %s: %w", path, err)
	}
	dst := path + ".broken"
	if err := writeAtomic(dst, data); err != nil {
		return "", err
	}
	return dst, nil
}
