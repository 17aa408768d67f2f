package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a writer safe for the serve goroutine and the test, that
// tells waiters when something was written.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.changed <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// result is what one run of the command did.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// invocation sets up one run of the command.
type invocation struct {
	env   map[string]string
	stdin string
	ctx   context.Context
	// tty, when not nil, makes stdin a terminal on which these lines
	// are typed.
	tty []string
}

func (inv invocation) run(args ...string) result {
	var stdout, stderr bytes.Buffer
	ctx := inv.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	c := newCLI(ctx, strings.NewReader(inv.stdin), &stdout, &stderr)
	c.lookupEnv = func(k string) (string, bool) { v, ok := inv.env[k]; return v, ok }
	if inv.tty != nil {
		c.terminal = func(io.Reader) (int, bool) { return 7, true }
		c.readPassword = func(fd int) ([]byte, error) {
			if fd != 7 || len(inv.tty) == 0 {
				return nil, io.ErrUnexpectedEOF
			}
			line := inv.tty[0]
			inv.tty = inv.tty[1:]
			return []byte(line), nil
		}
	}
	code := c.run(args)
	return result{code, stdout.String(), stderr.String()}
}

// xpushd runs the command with an empty environment and stdin.
func xpushd(args ...string) result { return invocation{}.run(args...) }

// must runs the command and fails the test unless it exits 0.
func must(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r := invocation{stdin: stdin}.run(args...)
	if r.code != 0 {
		t.Fatalf("xpushd %s: %v", strings.Join(args, " "), r)
	}
	return r
}

// served is an xpushd serve running in this process.
type served struct {
	data, c2s, http string
	stdout, stderr  *syncBuffer
	cancel          context.CancelFunc
	done            chan int
}

var readyRE = regexp.MustCompile(`(?m)^xpushd: serving c2s on (\S+), http on http://(\S+) \(domain (\S+)\)$`)

// serve starts xpushd serve on loopback ports chosen by the system, with
// a fresh data directory unless args give --data, and waits until it is
// ready. It is stopped at the end of the test.
func serve(t *testing.T, args ...string) *served {
	t.Helper()
	s := &served{data: filepath.Join(t.TempDir(), "data"), stdout: newSyncBuffer(), stderr: newSyncBuffer(), done: make(chan int, 1)}
	full := append([]string{"serve", "--data", s.data, "--c2s", "127.0.0.1:0", "--http", "127.0.0.1:0"}, args...)
	for i, a := range full {
		if a == "--data" && i+1 < len(full) {
			s.data = full[i+1]
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	c := newCLI(ctx, strings.NewReader(""), s.stdout, s.stderr)
	c.lookupEnv = func(string) (string, bool) { return "", false }
	go func() { s.done <- c.run(full) }()
	t.Cleanup(func() { s.stop(t) })

	timeout := time.NewTimer(20 * time.Second)
	defer timeout.Stop()
	for {
		if m := readyRE.FindStringSubmatch(s.stdout.String()); m != nil {
			s.c2s, s.http = m[1], m[2]
			return s
		}
		select {
		case <-s.stdout.changed:
		case code := <-s.done:
			s.done <- code
			t.Fatalf("xpushd serve exited %d before it was ready\n--- stdout:\n%s--- stderr:\n%s", code, s.stdout, s.stderr)
		case <-timeout.C:
			t.Fatalf("xpushd serve not ready after 20s\n--- stdout:\n%s--- stderr:\n%s", s.stdout, s.stderr)
		}
	}
}

// stop cancels the server's context and returns its exit code; it fails
// the test when the server takes longer than its grace period.
func (s *served) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		s.done <- code
		return code
	case <-time.After(ShutdownGrace + 5*time.Second):
		t.Errorf("xpushd serve did not stop within %v", ShutdownGrace+5*time.Second)
		return -1
	}
}

func (s *served) url(path string) string { return "http://" + s.http + path }

func get(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRunUsage(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		code       int
		wantStderr string
	}{
		{nil, exitUsage, "usage: xpushd COMMAND"},
		{[]string{"help"}, exitUsage, "usage: xpushd COMMAND"},
		{[]string{"--help"}, exitUsage, "usage: xpushd COMMAND"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"token"}, exitUsage, "token needs a subcommand"},
		{[]string{"token", "--data", "x"}, exitUsage, "token needs a subcommand"},
		{[]string{"token", "eat"}, exitUsage, `unknown command "token eat"`},
		{[]string{"user", "frob"}, exitUsage, "xpushd user add"},
		{[]string{"serve", "-h"}, exitUsage, "usage: xpushd serve"},
		{[]string{"serve", "--bogus"}, exitUsage, "flag provided but not defined: -bogus"},
		{[]string{"serve", "stray"}, exitUsage, `unexpected argument "stray"`},
		{[]string{"serve", "--registration", "maybe"}, exitUsage, "--registration must be open, token or closed"},
		{[]string{"serve", "--log-level", "loud"}, exitUsage, "--log-level"},
		{[]string{"serve", "--tls-cert", "c.pem"}, exitUsage, "--tls-cert and --tls-key go together"},
		{[]string{"serve", "--no-tls", "--c2s-tls", "127.0.0.1:0"}, exitUsage, "--c2s-tls needs TLS"},
		{[]string{"serve", "--c2s", "nonsense"}, exitUsage, "is not HOST:PORT"},
		{[]string{"serve", "--c2s", "", "--c2s-tls", ""}, exitUsage, "give --c2s or --c2s-tls"},
		{[]string{"serve", "--domain", "a@b"}, exitUsage, "not a domain name"},
		{[]string{"serve", "--register-rate", "-1"}, exitUsage, "--register-rate"},
		{[]string{"serve", "--register-rate", "many"}, exitUsage, "invalid value"},
		{[]string{"user", "add", "--data", "x"}, exitUsage, "--name is required"},
		{[]string{"user", "add", "--data", "x", "--name", "a@b"}, exitUsage, "not a valid user name"},
		{[]string{"token", "revoke", "--data", "x"}, exitUsage, "--name is required"},
		{[]string{"invite", "create", "--ttl", "-1h"}, exitUsage, "--ttl must be positive"},
		{[]string{"send", "--to", "alice", "--title", "t"}, exitUsage, "no API token"},
		{[]string{"send", "--token", "T", "--title", "t"}, exitUsage, "no recipients"},
		{[]string{"send", "--token", "T", "--to", "a", "--all", "--title", "t"}, exitUsage, "not both"},
		{[]string{"send", "--token", "T", "--to", "a"}, exitUsage, "--title, --message or both"},
		{[]string{"send", "--token", "T", "--to", "a", "--title", "t", "--wait", "read"}, exitUsage, "--wait must be acked or sent"},
		{[]string{"send", "--token", "T", "--to", "a", "--title", "t", "--http", "ftp://x"}, exitUsage, "not an http"},
		{[]string{"version", "extra"}, exitUsage, "unexpected argument"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := xpushd(tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\n%v", r.code, tc.code, r)
			}
			if !strings.Contains(r.stderr, tc.wantStderr) {
				t.Errorf("stderr does not say %q\n%v", tc.wantStderr, r)
			}
			if r.stdout != "" {
				t.Errorf("usage error wrote to stdout: %q", r.stdout)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := xpushd(args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "xpushd ") || r.stderr != "" {
			t.Errorf("%v: %v", args, r)
		}
	}
}

// TestRun calls run itself, as main does.
func TestRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"version"}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("run version = %d; stderr %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "xpushd") {
		t.Errorf("stdout %q", stdout.String())
	}
	// The real environment reaches the administration commands.
	dir := filepath.Join(t.TempDir(), "envdata")
	t.Setenv("XPUSHD_DATA", dir)
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"token", "create", "--name", "e"}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("token create with XPUSHD_DATA = %d; stderr %s", code, stderr.String())
	}
	r := must(t, "", "token", "list", "--data", dir)
	if !strings.Contains(r.stdout, "e ") {
		t.Errorf("token list of XPUSHD_DATA: %v", r)
	}
}

func TestRuntimeErrorIsOneSentence(t *testing.T) {
	r := xpushd("user", "list", "--data", filepath.Join(t.TempDir(), "missing"))
	if r.code != exitFail {
		t.Fatalf("%v", r)
	}
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "xpushd: ") || !strings.HasSuffix(lines[0], ".") {
		t.Errorf("stderr is not one sentence: %q", r.stderr)
	}
	if !strings.Contains(r.stderr, "no xpushd database") {
		t.Errorf("stderr: %q", r.stderr)
	}
}
