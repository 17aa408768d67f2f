//go:build linux

package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xpush/xpush/internal/testserver"
)

// The whole comparison at a tiny size against the real servers:
// scripts/bench-compare.sh builds xpushd and the tool, runs all three
// servers one after the other and writes the page and the charts. It
// takes a minute or two, so it runs only where real servers are
// required (XPUSH_INTEROP=1, as CI sets it).
func TestBenchCompareScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds xpushd and starts three servers")
	}
	if !testserver.Required() {
		t.Skip("set XPUSH_INTEROP=1 to run scripts/bench-compare.sh against xpushd, Prosody and ejabberd")
	}
	script := filepath.Join(scriptsDir(t), "bench-compare.sh")
	dir := t.TempDir()
	out := filepath.Join(dir, "docs", "benchmarks.md")
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, "--sizes", "20", "--out", out, "--work", filepath.Join(dir, "work"),
		"--port", strconv.Itoa(freePort(t)), "--http-port", strconv.Itoa(freePort(t)),
		"--latency-samples", "5", "--broadcast-rounds", "1", "--idle", "1", "--run-timeout", "120")
	// On time out, SIGTERM the script's whole process group: the tool
	// ends its run, and the script then stops the server it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = time.Minute
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, output)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, output)
	}
	for _, server := range []string{"xpushd", "Prosody", "ejabberd"} {
		var line string
		for l := range strings.Lines(string(page)) {
			if strings.HasPrefix(l, "| "+server+" | 20 |") {
				line = l
			}
		}
		if line == "" || strings.Contains(line, "failed") || strings.Contains(line, "—") {
			t.Errorf("%s: row %q\n%s", server, line, output)
		}
	}
	for _, f := range []string{"xpushd-20.json", "prosody-20.json", "ejabberd-20.json", summaryChart} {
		if fi, err := os.Stat(filepath.Join(dir, "docs", "bench", f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.Contains(string(page), "scripts/bench-compare.sh --sizes 20") {
		t.Error("the page lacks the command")
	}
	if t.Failed() {
		t.Logf("page:\n%s", page)
	}
}

// scriptsDir finds the repository's scripts directory.
func scriptsDir(t *testing.T) string {
	if d := os.Getenv("XPUSH_SCRIPTS"); d != "" {
		return d
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot find the scripts directory; set XPUSH_SCRIPTS")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts")
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
