//go:build linux

package autostart

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// python returns Debian's python3 when it can import the modules named,
// and skips the test otherwise (fails with XPUSH_INTEROP=1).
func python(t *testing.T, modules string) string {
	t.Helper()
	const py = "/usr/bin/python3"
	out, err := exec.Command(py, "-c", modules).CombinedOutput()
	if err != nil {
		if os.Getenv("XPUSH_INTEROP") == "1" {
			t.Fatalf("XPUSH_INTEROP=1 but %s cannot run %q: %v\n%s", py, modules, err, out)
		}
		t.Skipf("%s cannot run %q: %v", py, modules, err)
	}
	return py
}

// trickyCommand is a program path and arguments with everything the
// quoting rules have to handle.
func trickyCommand(dir string) (string, []string) {
	exe := filepath.Join(dir, "bin dir", "50% \"q\" $x `y` a\\b 'c' ~#;&|<>*?()", "rec")
	return exe, []string{"--jid", "a b", "%f", "", "it's", `back\slash`, "$HOME", "日本", "100%", `"`}
}

// TestGLibLaunchesDesktopEntry has GLib's GDesktopAppInfo, which GNOME's
// session uses for autostart entries, load and launch the entry, and
// checks the argv the program received.
func TestGLibLaunchesDesktopEntry(t *testing.T) {
	py := python(t, "import gi; gi.require_version('Gio', '2.0'); from gi.repository import Gio")
	dir := t.TempDir()
	exe, args := trickyCommand(dir)
	if err := os.MkdirAll(filepath.Dir(exe), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "argv")
	// The recorder writes its argv, NUL-separated, then renames the file
	// into place so that it appears whole.
	script := "#!/bin/sh\nprintf '%s\\0' \"$0\" \"$@\" > \"$REC_OUT.tmp\" && mv \"$REC_OUT.tmp\" \"$REC_OUT\"\n"
	if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	b := xdgBackend{dir: filepath.Join(dir, "autostart")}
	if err := b.enable(exe, args); err != nil {
		t.Fatal(err)
	}
	launcher := `
import os, sys, time, gi
gi.require_version('Gio', '2.0')
from gi.repository import Gio
try:
    info = Gio.DesktopAppInfo.new_from_filename(sys.argv[1])
except TypeError:
    info = None
if info is None:
    sys.exit("GLib rejected the desktop file")
if not info.launch([], None):
    sys.exit("launch failed")
for _ in range(100):
    if os.path.exists(sys.argv[2]):
        sys.exit(0)
    time.sleep(0.05)
sys.exit("the program did not run")
`
	cmd := exec.Command(py, "-c", launcher, b.path(), out)
	cmd.Env = append(os.Environ(), "REC_OUT="+out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		data, _ := os.ReadFile(b.path())
		t.Fatalf("GLib: %v\n%s\n%s", err, msg, data)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
	if want := append([]string{exe}, args...); !reflect.DeepEqual(got, want) {
		t.Errorf("argv:\n got %q\nwant %q", got, want)
	}
}

// TestPlistlibReadsPlist has Python's plistlib, a strict reader of
// Apple's format, read the launchd agent.
func TestPlistlibReadsPlist(t *testing.T) {
	py := python(t, "import plistlib")
	dir := t.TempDir()
	exe, args := trickyCommand(dir)
	b := launchdBackend{dir: dir}
	if err := b.enable(exe, args); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c",
		"import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], 'rb'))))", b.path()).Output()
	if err != nil {
		t.Fatalf("plistlib: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	prog := []any{exe}
	for _, a := range args {
		prog = append(prog, a)
	}
	want := map[string]any{
		"Label":                  "org.xpush.agent",
		"ProgramArguments":       prog,
		"RunAtLoad":              true,
		"ProcessType":            "Interactive",
		"LimitLoadToSessionType": "Aqua",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plistlib read:\n got %#v\nwant %#v", got, want)
	}
}
