package autostart

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unicode"
	"unicode/utf8"
)

// Options says where the entry lives. The zero value means the current
// user's folders.
type Options struct {
	// ConfigDir is the XDG configuration folder (Linux, BSDs); the entry
	// goes in its autostart subfolder. Empty means $XDG_CONFIG_HOME when
	// it is absolute, else HomeDir/.config.
	ConfigDir string
	// HomeDir is the user's home folder: macOS puts the entry in its
	// Library/LaunchAgents, and it is the fallback for ConfigDir. Empty
	// means os.UserHomeDir.
	HomeDir string
}

// Entry is the "start at login" entry of one user. Its methods may be
// called from any goroutine; two processes enabling at once both succeed,
// one of their files winning whole.
type Entry struct {
	opts Options
}

// New returns the entry that opts locate. It does no I/O.
func New(opts Options) *Entry {
	return &Entry{opts: opts}
}

// backend is one platform's way of keeping the entry.
type backend interface {
	enabled() (bool, error)
	enable(exe string, args []string) error
	disable() error
}

// Enabled reports whether xpush starts at login.
func (e *Entry) Enabled() (bool, error) {
	b, err := e.backend()
	if err != nil {
		return false, err
	}
	on, err := b.enabled()
	if err != nil {
		return false, fmt.Errorf("autostart: %w", err)
	}
	return on, nil
}

// Enable makes the desktop start exe with args at login, replacing any
// earlier entry of xpush's. exe must be an absolute path
// (os.Executable's); no argument may hold a control character.
func (e *Entry) Enable(exe string, args ...string) error {
	if err := checkCommand(exe, args); err != nil {
		return err
	}
	b, err := e.backend()
	if err != nil {
		return err
	}
	if err := b.enable(exe, args); err != nil {
		return fmt.Errorf("autostart: %w", err)
	}
	return nil
}

// Disable removes the entry; without one it does nothing.
func (e *Entry) Disable() error {
	b, err := e.backend()
	if err != nil {
		return err
	}
	if err := b.disable(); err != nil {
		return fmt.Errorf("autostart: %w", err)
	}
	return nil
}

// Enabled is New(Options{}).Enabled().
func Enabled() (bool, error) { return New(Options{}).Enabled() }

// Enable is New(Options{}).Enable(exe, args...).
func Enable(exe string, args ...string) error { return New(Options{}).Enable(exe, args...) }

// Disable is New(Options{}).Disable().
func Disable() error { return New(Options{}).Disable() }

// checkCommand refuses what no platform's entry can carry faithfully.
func checkCommand(exe string, args []string) error {
	if !filepath.IsAbs(exe) {
		return fmt.Errorf("autostart: the program must be an absolute path, not %q", exe)
	}
	for _, a := range append([]string{exe}, args...) {
		if !utf8.ValidString(a) {
			return fmt.Errorf("autostart: %q is not valid UTF-8", a)
		}
		for _, r := range a {
			if unicode.IsControl(r) {
				return fmt.Errorf("autostart: %q holds a control character", a)
			}
			if r == 0xFFFE || r == 0xFFFF {
				// Not characters at all; XML cannot carry them.
				return fmt.Errorf("autostart: %q holds the noncharacter %U", a, r)
			}
		}
	}
	return nil
}

// xdgAutostartDir is the XDG autostart folder that o names, with getenv
// and home for the defaults.
func xdgAutostartDir(o Options, getenv func(string) string, home func() (string, error)) (string, error) {
	dir := o.ConfigDir
	if dir == "" {
		if d := getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
			dir = d
		}
	}
	if dir == "" {
		h, err := homeDir(o, home)
		if err != nil {
			return "", err
		}
		dir = filepath.Join(h, ".config")
	}
	return filepath.Join(dir, "autostart"), nil
}

// launchAgentsDir is the launchd agents folder that o names.
func launchAgentsDir(o Options, home func() (string, error)) (string, error) {
	h, err := homeDir(o, home)
	if err != nil {
		return "", err
	}
	return filepath.Join(h, "Library", "LaunchAgents"), nil
}

func homeDir(o Options, home func() (string, error)) (string, error) {
	if o.HomeDir != "" {
		return o.HomeDir, nil
	}
	h, err := home()
	if err != nil {
		return "", fmt.Errorf("autostart: no home folder: %w", err)
	}
	return h, nil
}

// writeFile replaces path with data atomically (a temporary file renamed
// over it), leaving an identical file untouched.
func writeFile(path string, data []byte, perm os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() == perm {
			return nil
		}
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// removeFile removes path; a missing file is not an error.
func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
