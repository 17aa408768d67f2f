package autostart

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// desktopFile is the XDG autostart entry's file name.
const desktopFile = "xpush.desktop"

// xdgBackend keeps the entry as a desktop file in an XDG autostart folder.
type xdgBackend struct {
	dir string // the autostart folder
}

func (b xdgBackend) path() string { return filepath.Join(b.dir, desktopFile) }

func (b xdgBackend) enabled() (bool, error) {
	data, err := os.ReadFile(b.path())
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return desktopEnabled(data), nil
}

func (b xdgBackend) enable(exe string, args []string) error {
	data, err := renderDesktop(exe, args)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(b.dir, 0o700); err != nil {
		return err
	}
	return writeFile(b.path(), data, 0o644)
}

func (b xdgBackend) disable() error { return removeFile(b.path()) }

// renderDesktop returns the desktop file that starts exe with args.
func renderDesktop(exe string, args []string) ([]byte, error) {
	exec, err := desktopExec(exe, args)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("[Desktop Entry]\n")
	b.WriteString("Type=Application\n")
	b.WriteString("Name=xpush\n")
	b.WriteString("Comment=Push notifications over XMPP\n")
	b.WriteString("Exec=" + exec + "\n")
	b.WriteString("Terminal=false\n")
	b.WriteString("NoDisplay=true\n")
	b.WriteString("X-GNOME-Autostart-enabled=true\n")
	return b.Bytes(), nil
}

// desktopExec returns the value of the Exec key for exe and args, as the
// Desktop Entry specification (1.5, "The Exec key") has it: each argument
// with a reserved character is put in double quotes, inside which ", `, $
// and \ take a backslash; a literal % is written %%; and the whole value
// then gets the escapes of a string value, which double every backslash
// again (so one backslash inside quotes is four in the file). The
// executable may not contain "=". Control characters were refused before.
//
// GLib (2.74 tried) looks the executable up before it expands %%, so it
// rejects an entry whose program path holds a %; such a program is
// started through envCommand instead, which gets the path as an argument.
func desktopExec(exe string, args []string) (string, error) {
	if strings.Contains(exe, "=") {
		return "", fmt.Errorf("the program path %q contains \"=\", which a desktop entry cannot start", exe)
	}
	argv := append([]string{exe}, args...)
	if strings.Contains(exe, "%") {
		argv = append([]string{envCommand}, argv...)
	}
	words := make([]string, 0, len(argv))
	for _, a := range argv {
		words = append(words, execQuote(a))
	}
	return strings.ReplaceAll(strings.Join(words, " "), `\`, `\\`), nil
}

// envCommand starts a program whose path a desktop cannot take as its
// Exec program. env would read a first argument with "=" as a variable,
// which desktopExec refuses anyway.
const envCommand = "/usr/bin/env"

// execReserved are the characters that make an Exec argument need quotes.
const execReserved = " \t\n\"'\\><~|&;$*?#()`"

// execQuote quotes one Exec argument (before the string-value escapes).
func execQuote(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if s != "" && !strings.ContainsAny(s, execReserved) {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '`', '$', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// desktopEnabled reads a desktop file's [Desktop Entry] group: it is off
// with Hidden=true (the XDG autostart way to disable an entry) or
// X-GNOME-Autostart-enabled=false.
func desktopEnabled(data []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(data))
	inEntry := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			inEntry = line == "[Desktop Entry]"
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !inEntry || !ok {
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch {
		case key == "Hidden" && value == "true":
			return false
		case key == "X-GNOME-Autostart-enabled" && value == "false":
			return false
		}
	}
	return true
}
