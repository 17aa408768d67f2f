//go:build unix && !darwin

package opener

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeBrowser writes an executable script into dir that records its
// argument count and each argument, NUL-terminated, into out, then exits
// with status code.
func fakeBrowser(t *testing.T, dir, name, out string, code int) string {
	t.Helper()
	p := filepath.Join(dir, name)
	script := "#!/bin/sh\n" +
		"{ printf '%s\\0' \"$#\"; for a in \"$@\"; do printf '%s\\0' \"$a\"; done; } > " + shellQuote(out) + "\n" +
		"exit " + string(rune('0'+code)) + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// recorded returns the arguments the fake browser was given.
func recorded(t *testing.T, out string) []string {
	t.Helper()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("fake browser did not run: %v", err)
	}
	f := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	if len(f) == 0 || f[0] != itoa(len(f)-1) {
		t.Fatalf("recorded %q: argument count does not match", f)
	}
	return f[1:]
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func requireSh(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
}

func TestOpenBrowserEnv(t *testing.T) {
	requireSh(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "args")
	browser := fakeBrowser(t, dir, "fake-browser", out, 0)
	uris := []string{
		"https://example.org/a?b=c&d=e#f",
		"http://127.0.0.1:8080/x;y=$(id)'(z)*",
	}
	for _, uri := range uris {
		t.Setenv("BROWSER", browser)
		start := time.Now()
		if err := Open(context.Background(), uri); err != nil {
			t.Fatalf("Open(%q): %v", uri, err)
		}
		if d := time.Since(start); d >= settle {
			t.Errorf("Open took %v: it should return when the helper exits", d)
		}
		if got := recorded(t, out); len(got) != 1 || got[0] != uri {
			t.Errorf("browser got %q, want exactly [%q]", got, uri)
		}
	}
}

func TestOpenBrowserList(t *testing.T) {
	requireSh(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "args")
	fakeBrowser(t, dir, "fake-browser", out, 0)
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	const uri = "https://example.org/list"

	// A missing first entry is skipped; %s is replaced in place, other
	// words stay separate arguments.
	t.Setenv("BROWSER", "no-such-browser-xpush:fake-browser --new-tab=%s --flag")
	if err := Open(context.Background(), uri); err != nil {
		t.Fatal(err)
	}
	got := recorded(t, out)
	want := []string{"--new-tab=" + uri, "--flag"}
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("browser got %q, want %q", got, want)
	}
}

func TestOpenXDGOpen(t *testing.T) {
	requireSh(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "args")
	fakeBrowser(t, dir, "xdg-open", out, 0)
	t.Setenv("BROWSER", "")
	t.Setenv("PATH", dir)
	const uri = "https://example.org/xdg"
	if err := Open(context.Background(), uri); err != nil {
		t.Fatal(err)
	}
	if got := recorded(t, out); len(got) != 1 || got[0] != uri {
		t.Errorf("xdg-open got %q, want exactly [%q]", got, uri)
	}
}

func TestOpenHelperFails(t *testing.T) {
	requireSh(t)
	dir := t.TempDir()
	browser := fakeBrowser(t, dir, "failing-browser", filepath.Join(dir, "args"), 3)
	t.Setenv("BROWSER", browser)
	err := Open(context.Background(), "https://example.org/")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("Open = %v, want exit status 3", err)
	}
}

func TestOpenNoHelper(t *testing.T) {
	t.Setenv("BROWSER", "")
	t.Setenv("PATH", t.TempDir())
	err := Open(context.Background(), "https://example.org/")
	if !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("Open = %v, want exec.ErrNotFound", err)
	}
}

func TestOpenDoesNotWaitForBrowser(t *testing.T) {
	requireSh(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "slow-browser")
	// A browser that stays up; closing its stdin-less pipe is not possible,
	// so the test releases it through a FIFO.
	fifo := filepath.Join(dir, "release")
	if err := exec.Command("mkfifo", fifo).Run(); err != nil {
		t.Skip("no mkfifo:", err)
	}
	script := "#!/bin/sh\nread x < " + shellQuote(fifo) + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BROWSER", p)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := Open(ctx, "https://example.org/"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > settle {
		t.Errorf("Open took %v, want it bounded by ctx (200ms)", d)
	}
	// Release the browser so that the reaper goroutine ends with the test.
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("bye\n")
	f.Close()
}
