package history

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
)

// DefaultPath returns where the history lives: history.db in an xpush
// folder of the user's data directory, which is
//
//   - Linux and other Unix: $XDG_DATA_HOME, or ~/.local/share when it is
//     unset or not absolute (the XDG Base Directory rules);
//   - macOS: ~/Library/Application Support;
//   - Windows: %LOCALAPPDATA%.
//
// The history is data, not configuration, and it belongs to this machine:
// on Windows the local (not roaming) profile keeps an SQLite file, and its
// write-ahead log, out of profile synchronisation.
func DefaultPath() (string, error) {
	dir, err := dataDir(runtime.GOOS, os.Getenv, os.UserHomeDir)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "xpush", "history.db"), nil
}

// dataDir is DefaultPath's base directory for goos.
func dataDir(goos string, getenv func(string) string, home func() (string, error)) (string, error) {
	switch goos {
	case "windows":
		if d := getenv("LOCALAPPDATA"); d != "" {
			return d, nil
		}
		return "", errors.New("history: %LOCALAPPDATA% is not set")
	case "darwin", "ios":
		h, err := home()
		if err != nil {
			return "", errors.New("history: no home directory for the history")
		}
		return filepath.Join(h, "Library", "Application Support"), nil
	case "plan9":
		h, err := home()
		if err != nil {
			return "", errors.New("history: no home directory for the history")
		}
		return filepath.Join(h, "lib"), nil
	}
	if d := getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return d, nil
	}
	h, err := home()
	if err != nil {
		return "", errors.New("history: neither $XDG_DATA_HOME nor a home directory is set")
	}
	return filepath.Join(h, ".local", "share"), nil
}
