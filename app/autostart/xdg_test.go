package autostart

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestExecQuoting(t *testing.T) {
	for _, tc := range []struct {
		exe  string
		args []string
		want string // the Exec value as written in the file
	}{
		{"/usr/bin/xpush", nil, `/usr/bin/xpush`},
		{"/usr/bin/xpush", []string{"--server", "example.org:5222"}, `/usr/bin/xpush --server example.org:5222`},
		{"/opt/My Apps/xpush", nil, `"/opt/My Apps/xpush"`},
		{"/opt/50% off/xpush", nil, `/usr/bin/env "/opt/50%% off/xpush"`},
		{"/opt/100%/xpush", []string{"%f", "--jid=a@b"}, `/usr/bin/env /opt/100%%/xpush %%f --jid=a@b`},
		{"/opt/xpush", []string{"%f", "100%", "%%"}, `/opt/xpush %%f 100%% %%%%`},
		{"/home/me/bin/xpush", []string{""}, `/home/me/bin/xpush ""`},
		{"/home/me/o'neil/xpush", nil, `"/home/me/o'neil/xpush"`},
		{`/home/me/a\b/xpush`, nil, `"/home/me/a\\\\b/xpush"`},
		{`/home/me/$HOME "x" ` + "`id`" + `/xpush`, nil, `"/home/me/\\$HOME \\"x\\" \\` + "`id\\\\`" + `/xpush"`},
		{"/home/mé/日本/xpush", []string{"~", "a;b", "(x)", "#c", "*?"}, `/home/mé/日本/xpush "~" "a;b" "(x)" "#c" "*?"`},
	} {
		got, err := desktopExec(tc.exe, tc.args)
		if err != nil {
			t.Errorf("%q %q: %v", tc.exe, tc.args, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%q %q:\n got %s\nwant %s", tc.exe, tc.args, got, tc.want)
		}
		want := append([]string{tc.exe}, tc.args...)
		if strings.Contains(tc.exe, "%") {
			want = append([]string{envCommand}, want...)
		}
		if back := parseExec(t, got); !reflect.DeepEqual(back, want) {
			t.Errorf("%s parses back as %q", got, back)
		}
	}
	if _, err := desktopExec("/opt/a=b/xpush", nil); err == nil {
		t.Error(`an executable with "=" was accepted`)
	}
}

// parseExec undoes desktopExec the way a desktop reads an Exec value: the
// string escapes first, then quoting and word splitting, then %%.
func parseExec(t *testing.T, value string) []string {
	t.Helper()
	var s strings.Builder
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c != '\\' {
			s.WriteByte(c)
			continue
		}
		i++
		if i == len(value) {
			t.Fatalf("%s: trailing backslash", value)
		}
		switch value[i] {
		case '\\':
			s.WriteByte('\\')
		case 's':
			s.WriteByte(' ')
		case 'n':
			s.WriteByte('\n')
		case 't':
			s.WriteByte('\t')
		case 'r':
			s.WriteByte('\r')
		default:
			t.Fatalf("%s: unknown string escape \\%c", value, value[i])
		}
	}
	unescaped := s.String()

	var args []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(unescaped); i++ {
		c := unescaped[i]
		switch {
		case quoted && c == '\\':
			i++
			if i == len(unescaped) || !strings.ContainsRune("\"`$\\", rune(unescaped[i])) {
				t.Fatalf("%s: bad escape inside quotes", value)
			}
			cur.WriteByte(unescaped[i])
		case quoted && c == '"':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '"':
			quoted, inWord = true, true
		case c == ' ':
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			if strings.ContainsRune(execReserved, rune(c)) {
				t.Fatalf("%s: unquoted reserved character %q", value, c)
			}
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("%s: unterminated quote", value)
	}
	if inWord {
		args = append(args, cur.String())
	}
	for i, a := range args {
		if strings.Contains(strings.ReplaceAll(a, "%%", ""), "%") {
			t.Fatalf("%s: field code in %q", value, a)
		}
		args[i] = strings.ReplaceAll(a, "%%", "%")
	}
	return args
}

func TestDesktopFile(t *testing.T) {
	b := xdgBackend{dir: filepath.Join(t.TempDir(), "config", "autostart")}
	exe := "/opt/My Apps/50% off/xpush"
	if on, err := b.enabled(); err != nil || on {
		t.Fatalf("enabled before enable: %v, %v", on, err)
	}
	if err := b.enable(exe, []string{"--jid", "alice@example.org"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(b.dir, "xpush.desktop"))
	if err != nil {
		t.Fatal(err)
	}
	want := `[Desktop Entry]
Type=Application
Name=xpush
Comment=Push notifications over XMPP
Exec=/usr/bin/env "/opt/My Apps/50%% off/xpush" --jid alice@example.org
Terminal=false
NoDisplay=true
X-GNOME-Autostart-enabled=true
`
	if string(data) != want {
		t.Errorf("desktop file:\n%s\nwant:\n%s", data, want)
	}
	if on, err := b.enabled(); err != nil || !on {
		t.Errorf("enabled after enable: %v, %v", on, err)
	}
	fi, err := os.Stat(filepath.Join(b.dir, "xpush.desktop"))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode: %v, %v", fi.Mode(), err)
	}
	// Nothing else is left in the folder (no temporary file).
	if ents, _ := os.ReadDir(b.dir); len(ents) != 1 {
		t.Errorf("folder holds %d files", len(ents))
	}
}

func TestDesktopEnabled(t *testing.T) {
	for _, tc := range []struct {
		file string
		want bool
	}{
		{"[Desktop Entry]\nType=Application\nExec=/x\n", true},
		{"[Desktop Entry]\nHidden=true\n", false},
		{"[Desktop Entry]\nHidden = true\n", false},
		{"[Desktop Entry]\nHidden=false\n", true},
		{"[Desktop Entry]\nX-GNOME-Autostart-enabled=false\n", false},
		{"[Desktop Entry]\nX-GNOME-Autostart-enabled=true\n", true},
		{"[Desktop Entry]\nExec=/x\n[Desktop Action a]\nHidden=true\n", true},
		{"# Hidden=true\n[Desktop Entry]\n", true},
	} {
		if got := desktopEnabled([]byte(tc.file)); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.file, got, tc.want)
		}
	}
}
