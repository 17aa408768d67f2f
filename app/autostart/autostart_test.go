package autostart

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// backends returns each file-based backend over a fresh folder, whatever
// the platform the test runs on.
func backends(t *testing.T) map[string]backend {
	return map[string]backend{
		"xdg":     xdgBackend{dir: filepath.Join(t.TempDir(), "autostart")},
		"launchd": launchdBackend{dir: filepath.Join(t.TempDir(), "LaunchAgents")},
	}
}

func TestIdempotent(t *testing.T) {
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			if err := b.disable(); err != nil {
				t.Fatalf("disable with no entry: %v", err)
			}
			if err := b.enable("/usr/bin/xpush", nil); err != nil {
				t.Fatal(err)
			}
			path := entryPath(b)
			first, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			fi1, _ := os.Stat(path)
			if err := b.enable("/usr/bin/xpush", nil); err != nil {
				t.Fatalf("second enable: %v", err)
			}
			second, _ := os.ReadFile(path)
			fi2, _ := os.Stat(path)
			if !bytes.Equal(first, second) {
				t.Error("a second enable changed the file")
			}
			if !os.SameFile(fi1, fi2) {
				t.Error("a second enable of the same command rewrote the file")
			}
			if on, err := b.enabled(); err != nil || !on {
				t.Errorf("enabled: %v, %v", on, err)
			}
			// A new program path replaces the entry.
			if err := b.enable("/opt/xpush/xpush", []string{"--x"}); err != nil {
				t.Fatal(err)
			}
			third, _ := os.ReadFile(path)
			if bytes.Equal(first, third) || !bytes.Contains(third, []byte("/opt/xpush/xpush")) {
				t.Errorf("enable with another program:\n%s", third)
			}
			for range 2 {
				if err := b.disable(); err != nil {
					t.Fatalf("disable: %v", err)
				}
				if on, err := b.enabled(); err != nil || on {
					t.Errorf("enabled after disable: %v, %v", on, err)
				}
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("entry after disable: %v", err)
				}
			}
		})
	}
}

func entryPath(b backend) string {
	switch b := b.(type) {
	case xdgBackend:
		return b.path()
	case launchdBackend:
		return b.path()
	}
	panic("unknown backend")
}

func TestCheckCommand(t *testing.T) {
	for _, tc := range []struct {
		exe  string
		args []string
		ok   bool
	}{
		{"/usr/bin/xpush", nil, true},
		{"/opt/My Apps/50% off/xpush", []string{"", "a b", "日本"}, true},
		{"xpush", nil, false},
		{"./xpush", nil, false},
		{"/usr/bin/xpush", []string{"a\nb"}, false},
		{"/usr/bin/xpush", []string{"a\tb"}, false},
		{"/usr/bin/x\x00push", nil, false},
		{"/usr/bin/xpush", []string{"\x7f"}, false},
		{"/usr/bin/xpush", []string{"\u0085"}, false},
		{"/usr/bin/xpush", []string{"\uffff"}, false},
		{"/usr/bin/xpush", []string{"\xff"}, false},
	} {
		err := checkCommand(tc.exe, tc.args)
		if (err == nil) != tc.ok {
			t.Errorf("checkCommand(%q, %q) = %v, want ok=%v", tc.exe, tc.args, err, tc.ok)
		}
	}
}

func TestDirs(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	home := func() (string, error) { return "/home/u", nil }
	noHome := func() (string, error) { return "", errors.New("no home") }
	for _, tc := range []struct {
		opts Options
		env  map[string]string
		home func() (string, error)
		want string
	}{
		{Options{}, nil, home, "/home/u/.config/autostart"},
		{Options{}, map[string]string{"XDG_CONFIG_HOME": "/x/cfg"}, home, "/x/cfg/autostart"},
		{Options{}, map[string]string{"XDG_CONFIG_HOME": "rel/cfg"}, home, "/home/u/.config/autostart"},
		{Options{HomeDir: "/h"}, nil, noHome, "/h/.config/autostart"},
		{Options{ConfigDir: "/c", HomeDir: "/h"}, map[string]string{"XDG_CONFIG_HOME": "/x/cfg"}, noHome, "/c/autostart"},
		{Options{}, nil, noHome, ""},
	} {
		got, err := xdgAutostartDir(tc.opts, env(tc.env), tc.home)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%+v %v: %q, want an error", tc.opts, tc.env, got)
			}
			continue
		}
		if err != nil || got != filepath.FromSlash(tc.want) {
			t.Errorf("%+v %v: %q, %v; want %q", tc.opts, tc.env, got, err, tc.want)
		}
	}
	if got, err := launchAgentsDir(Options{}, home); err != nil || got != filepath.FromSlash("/home/u/Library/LaunchAgents") {
		t.Errorf("launchAgentsDir: %q, %v", got, err)
	}
	if got, err := launchAgentsDir(Options{HomeDir: "/h"}, noHome); err != nil || got != filepath.FromSlash("/h/Library/LaunchAgents") {
		t.Errorf("launchAgentsDir: %q, %v", got, err)
	}
	if _, err := launchAgentsDir(Options{}, noHome); err == nil {
		t.Error("launchAgentsDir without a home: no error")
	}
}

func TestWriteFileKeepsOldOnFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := writeFile(path, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(filepath.Join(dir, "missing", "f"), []byte("two"), 0o644); err == nil {
		t.Error("write into a missing folder succeeded")
	}
	if b, _ := os.ReadFile(path); string(b) != "one" {
		t.Errorf("file: %q", b)
	}
}
