package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xpush/xpush/app/control"
)

func TestLoadMissingIsZero(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "nope", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Config{}) {
		t.Fatalf("got %+v", c)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "xpush")
	path := filepath.Join(dir, "config.toml")
	want := Config{
		Account: control.Account{
			Server: "push.example.org:5222", JID: "ann@example.org",
			InsecurePlain: true, PushService: "push.example.org",
		},
		Register: true,
		Settings: control.Settings{
			StartAtLogin: true, Muted: []string{"noisy.example", "b.example"},
			HistoryMax: 500, HistoryDays: 7,
		},
		DNDUntil: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.DNDUntil.Equal(want.DNDUntil) {
		t.Fatalf("dnd %v, want %v", got.DNDUntil, want.DNDUntil)
	}
	got.DNDUntil = want.DNDUntil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if runtime.GOOS != "windows" {
		for p, mode := range map[string]os.FileMode{path: 0o600, dir: 0o700 | os.ModeDir} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != mode {
				t.Errorf("%s: mode %v, want %v", p, fi.Mode(), mode)
			}
		}
	}
	// Nothing left behind but the file itself.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %v", ents)
	}

	// Saving the zero config turns things off again.
	if err := Save(path, Config{}); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(path); err != nil || !reflect.DeepEqual(got, Config{}) {
		t.Fatalf("zero round trip: %+v %v", got, err)
	}
}

func TestFileIsReadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := Save(path, Config{Account: control.Account{JID: "ann@example.org"}, Register: true}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	for _, want := range []string{"[account]", `jid = "ann@example.org"`, "register = true", "[settings]", "keyring"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("file lacks %q:\n%s", want, b)
		}
	}
}

func TestLoadHandWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	src := `# mine
dnd_until = 2031-05-06T07:08:09Z
unknown_key = 1

[account]
jid = "bo@example.net"

[settings]
muted = ["x.example"]
history_days = 30
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Account.JID != "bo@example.net" || !c.HasAccount() || len(c.Settings.Muted) != 1 ||
		c.HistoryOptions().MaxAge != 30*24*time.Hour || c.HistoryOptions().MaxEntries != 0 ||
		c.DNDUntil.IsZero() {
		t.Fatalf("got %+v", c)
	}
}

func TestLoadBrokenNamesFileAndLine(t *testing.T) {
	for name, tc := range map[string]struct {
		src  string
		line int
	}{
		"syntax":    {"[account]\njid = \"a@b\"\nserver = localhost:5222\n", 3},
		"duplicate": {"[account]\njid = \"a@b\"\njid = \"c@d\"\n", 3},
		"type":      {"[settings]\n\nhistory_max = \"many\"\n", 3},
		"table":     {"account = 3\n", 1},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.toml")
			if err := os.WriteFile(path, []byte(tc.src), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err %v (%T), want *Error", err, err)
			}
			if !reflect.DeepEqual(c, Config{}) {
				t.Errorf("config %+v, want zero", c)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("%q does not name the file", msg)
			}
			if tc.line > 0 && ce.Line != tc.line {
				t.Errorf("%q: line %d, want %d", msg, ce.Line, tc.line)
			}
			t.Log(msg)
		})
	}
}

func TestLoadTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte("# "+strings.Repeat("x", MaxSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Fatalf("err %v", err)
	}
}

func TestKeep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte("broken = [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kept, err := Keep(path)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(kept); string(b) != "broken = [\n" {
		t.Fatalf("kept %q", b)
	}
}

func TestSaveFailureLeavesOldFile(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("needs a directory the test cannot write to (not as root)")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	if err := Save(path, Config{Account: control.Account{JID: "old@example.org"}}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if err := Save(path, Config{Account: control.Account{JID: "new@example.org"}}); err == nil {
		t.Fatal("Save into a read-only directory succeeded")
	}
	if c, err := Load(path); err != nil || c.Account.JID != "old@example.org" {
		t.Fatalf("after a failed save: %+v %v", c, err)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/tmp/cfg-home")
	t.Setenv("HOME", "/tmp/home")
	p, err := DefaultPath()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p) != "config.toml" || filepath.Base(filepath.Dir(p)) != "xpush" {
		t.Fatalf("path %s", p)
	}
	if runtime.GOOS == "linux" && p != "/tmp/cfg-home/xpush/config.toml" {
		t.Fatalf("path %s", p)
	}
}

func TestExplain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte("[account]\njid = \"a@b\"\njid = \"c@d\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	got := Explain(err)
	if !strings.HasPrefix(got, "The configuration file "+path+" has an error on line 3 (") || strings.Contains(got, "..") {
		t.Fatalf("Explain = %q", got)
	}
}
