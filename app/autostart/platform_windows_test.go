package autostart

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/windows/registry"
)

// The registry backend over a scratch key of its own under
// HKEY_CURRENT_USER, never the real Run key.
func TestRegistry(t *testing.T) {
	base := fmt.Sprintf(`Software\xpush-autostart-test-%d`, os.Getpid())
	b := registryBackend{run: base + `\Run`, approved: base + `\Approved`}
	t.Cleanup(func() {
		registry.DeleteKey(registry.CURRENT_USER, b.run)
		registry.DeleteKey(registry.CURRENT_USER, b.approved)
		registry.DeleteKey(registry.CURRENT_USER, base)
	})
	if on, err := b.enabled(); err != nil || on {
		t.Fatalf("enabled before enable: %v, %v", on, err)
	}
	if err := b.disable(); err != nil {
		t.Fatalf("disable with no key: %v", err)
	}
	exe := `C:\Program Files\xpush 50%\xpush.exe`
	for range 2 {
		if err := b.enable(exe, []string{"--jid", `a "b"`}); err != nil {
			t.Fatal(err)
		}
	}
	k, err := registry.OpenKey(registry.CURRENT_USER, b.run, registry.QUERY_VALUE)
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := k.GetStringValue(valueName)
	k.Close()
	if want := `"C:\Program Files\xpush 50%\xpush.exe" --jid "a \"b\""`; err != nil || v != want {
		t.Errorf("Run value: %q, %v; want %q", v, err, want)
	}
	if on, err := b.enabled(); err != nil || !on {
		t.Errorf("enabled: %v, %v", on, err)
	}

	// Task Manager disables it; Enable turns it back on.
	ak, _, err := registry.CreateKey(registry.CURRENT_USER, b.approved, registry.SET_VALUE)
	if err != nil {
		t.Fatal(err)
	}
	err = ak.SetBinaryValue(valueName, []byte{3, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8})
	ak.Close()
	if err != nil {
		t.Fatal(err)
	}
	if on, err := b.enabled(); err != nil || on {
		t.Errorf("enabled when Task Manager disabled it: %v, %v", on, err)
	}
	if err := b.enable(exe, nil); err != nil {
		t.Fatal(err)
	}
	if on, err := b.enabled(); err != nil || !on {
		t.Errorf("enabled after enable: %v, %v", on, err)
	}

	for range 2 {
		if err := b.disable(); err != nil {
			t.Fatal(err)
		}
		if on, err := b.enabled(); err != nil || on {
			t.Errorf("enabled after disable: %v, %v", on, err)
		}
	}
}
