//go:build unix && !darwin && !ios && !android

package autostart

import (
	"os"
	"path/filepath"
	"testing"
)

// The Entry of this platform, through the exported API, in a temporary
// config folder.
func TestEntryXDG(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "cfg")
	e := New(Options{ConfigDir: cfg, HomeDir: t.TempDir()})
	if on, err := e.Enabled(); err != nil || on {
		t.Fatalf("Enabled: %v, %v", on, err)
	}
	if err := e.Enable("/opt/x push/xpush", "--jid", "a@b"); err != nil {
		t.Fatal(err)
	}
	if on, err := e.Enabled(); err != nil || !on {
		t.Fatalf("Enabled after Enable: %v, %v", on, err)
	}
	if _, err := os.Stat(filepath.Join(cfg, "autostart", "xpush.desktop")); err != nil {
		t.Fatal(err)
	}
	if err := e.Enable("relative/xpush"); err == nil {
		t.Error("Enable with a relative path succeeded")
	}
	if err := e.Disable(); err != nil {
		t.Fatal(err)
	}
	if on, err := e.Enabled(); err != nil || on {
		t.Fatalf("Enabled after Disable: %v, %v", on, err)
	}
}
