package ipc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// DefaultPath returns where the agent's socket lives: agent.sock in an
// xpush folder of
//
//   - Linux and other Unix: $XDG_RUNTIME_DIR (when it is set and
//     absolute, as the XDG Base Directory rules ask), else the user cache
//     directory (os.UserCacheDir);
//   - macOS: the user cache directory, ~/Library/Caches;
//   - Windows: %LOCALAPPDATA%.
func DefaultPath() (string, error) {
	return defaultPath(runtime.GOOS, os.Getenv, os.UserCacheDir)
}

// defaultPath is DefaultPath for goos.
func defaultPath(goos string, getenv func(string) string, cacheDir func() (string, error)) (string, error) {
	var dir string
	switch goos {
	case "windows":
		dir = getenv("LOCALAPPDATA")
		if dir == "" {
			return "", errors.New("ipc: %LOCALAPPDATA% is not set")
		}
	case "darwin", "ios":
		d, err := cacheDir()
		if err != nil {
			return "", fmt.Errorf("ipc: no cache directory for the socket: %w", err)
		}
		dir = d
	default:
		if d := getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
			dir = d
			break
		}
		d, err := cacheDir()
		if err != nil {
			return "", fmt.Errorf("ipc: neither $XDG_RUNTIME_DIR nor a cache directory is set: %w", err)
		}
		dir = d
	}
	return filepath.Join(dir, "xpush", "agent.sock"), nil
}

// maxPathLen is the longest socket path the operating system takes:
// sockaddr_un's sun_path less its terminating NUL.
func maxPathLen(goos string) int {
	switch goos {
	case "darwin", "ios", "freebsd", "netbsd", "openbsd", "dragonfly":
		return 103
	}
	return 107 // Linux, Windows
}

// checkPath refuses a path the socket cannot be bound to, with a clearer
// message than bind's "invalid argument".
func checkPath(path string) error {
	if path == "" {
		return errors.New("ipc: empty socket path")
	}
	if n, max := len(path), maxPathLen(runtime.GOOS); n > max {
		return fmt.Errorf("ipc: socket path is %d bytes, longer than the %d the system allows: %s", n, max, path)
	}
	return nil
}
