package assets

import (
	"bytes"
	"image"
	"image/png"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/xpush/xpush/app/control"
)

func decode(t *testing.T, name string, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: not a PNG: %v", name, err)
	}
	return img
}

func alpha(img image.Image, x, y int) uint32 {
	_, _, _, a := img.At(x, y).RGBA()
	return a >> 8
}

func TestIcon(t *testing.T) {
	img := decode(t, "icon.png", Icon())
	if b := img.Bounds(); b.Dx() != 256 || b.Dy() != 256 {
		t.Fatalf("icon is %v, want 256×256", b)
	}
	if a := alpha(img, 0, 0); a != 0 {
		t.Errorf("corner alpha %d, want transparent rounded corners", a)
	}
	if a := alpha(img, 128, 20); a != 255 {
		t.Errorf("alpha inside the square %d, want opaque", a)
	}
}

func TestTrayName(t *testing.T) {
	states := []control.State{control.StateOnline, control.StateConnecting, control.StateOffline, control.StateNoAccount, ""}
	want := map[control.State][4]string{ // dnd, unread: ff, ft, tf, tt
		control.StateOnline:     {"online", "online-unread", "dnd", "dnd"},
		control.StateConnecting: {"connecting", "connecting", "connecting", "connecting"},
		control.StateOffline:    {"offline", "offline", "offline", "offline"},
		control.StateNoAccount:  {"offline", "offline", "offline", "offline"},
		"":                      {"offline", "offline", "offline", "offline"},
	}
	for _, s := range states {
		for i, f := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			if got := TrayName(s, f[0], f[1]); got != want[s][i] {
				t.Errorf("TrayName(%q, dnd=%v, unread=%v) = %q, want %q", s, f[0], f[1], got, want[s][i])
			}
		}
	}
}

// TestTray decodes every tray icon at both sizes: a disc (or badge) on a
// transparent square, distinct from one another.
func TestTray(t *testing.T) {
	seen := map[string]string{}
	for _, name := range []string{"online", "online-unread", "connecting", "offline", "dnd"} {
		for _, size := range []int{22, 44} {
			file := "tray/" + name + ".png"
			if size == 44 {
				file = "tray/" + name + "@2x.png"
			}
			b := read(file)
			img := decode(t, file, b)
			if got := img.Bounds(); got.Dx() != size || got.Dy() != size {
				t.Errorf("%s is %v, want %d×%d", file, got, size, size)
			}
			if a := alpha(img, 0, 0); a != 0 {
				t.Errorf("%s: corner alpha %d, want transparent", file, a)
			}
			if a := alpha(img, size/2, size/2); a != 255 {
				t.Errorf("%s: centre alpha %d, want opaque", file, a)
			}
			if other, dup := seen[string(b)]; dup {
				t.Errorf("%s is the same image as %s", file, other)
			}
			seen[string(b)] = file
		}
	}
	if !bytes.Equal(Tray(control.StateOnline, false, true), read("tray/online-unread.png")) ||
		!bytes.Equal(Tray2x(control.StateOnline, true, false), read("tray/dnd@2x.png")) {
		t.Error("Tray and Tray2x do not return the files TrayName names")
	}
	// Every embedded tray icon is one that TrayName can pick.
	files, err := fs.Glob(files, "tray/*.png")
	if err != nil || len(files) != len(seen) {
		t.Errorf("embedded %d tray icons %v (%v), want the %d above", len(files), files, err, len(seen))
	}
}

// TestGenerated runs the generator and compares its pixels with the
// committed PNGs, so that they never drift from gen/main.go.
func TestGenerated(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(gobin, "run", "./gen", "-out", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./gen: %v\n%s", err, out)
	}
	names, _ := fs.Glob(files, "tray/*.png")
	for _, name := range append(names, "icon.png") {
		fresh, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("the generator no longer writes %s: %v", name, err)
			continue
		}
		a, b := decode(t, name, read(name)), decode(t, name, fresh)
		if a.Bounds() != b.Bounds() {
			t.Errorf("%s: committed %v, generated %v", name, a.Bounds(), b.Bounds())
			continue
		}
		if !samePixels(a, b) {
			t.Errorf("%s differs from what gen draws: run go generate ./assets", name)
		}
	}
}

func samePixels(a, b image.Image) bool {
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ar, ag, ab, aa := a.At(x, y).RGBA()
			br, bg, bb, ba := b.At(x, y).RGBA()
			if ar != br || ag != bg || ab != bb || aa != ba {
				return false
			}
		}
	}
	return true
}
