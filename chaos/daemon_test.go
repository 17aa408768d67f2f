package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// readyRE is xpushd serve's ready line, which DESIGN.md keeps stable for
// scripts and tests.
var readyRE = regexp.MustCompile(`(?m)^xpushd: serving c2s on (\S+), http on http://(\S+) \(domain (\S+)\)$`)

// Bounds of the server's life cycle.
const (
	readyWithin = time.Minute      // start to ready line (the -race build replays a large queue)
	stopWithin  = 20 * time.Second // SIGTERM to exit: the server's 10 s grace and some
	startTries  = 50               // when a port of the killed server is taken meanwhile
)

// raceEnabled reports whether this test binary runs with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// repoRoot is the module's root, one up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod above the chaos package: %v", err)
	}
	return root
}

// goBuild builds pkg (relative to the repository root) into out.
func goBuild(ctx context.Context, root, out, pkg string, extra ...string) error {
	args := append([]string{"build", "-o", out}, extra...)
	args = append(args, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

// cleanEnv is the environment without XPUSHD_ settings, which would
// change the server under test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "XPUSHD_") {
			env = append(env, kv)
		}
	}
	return env
}

// watchBuffer is an io.Writer that keeps the last max bytes and signals
// each write.
type watchBuffer struct {
	max     int
	mu      sync.Mutex
	b       []byte
	changed chan struct{} // capacity 1
}

func newWatchBuffer(max int) *watchBuffer {
	return &watchBuffer{max: max, changed: make(chan struct{}, 1)}
}

func (w *watchBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.b = append(w.b, p...)
	if len(w.b) > w.max {
		w.b = append(w.b[:0], w.b[len(w.b)-w.max:]...)
	}
	w.mu.Unlock()
	select {
	case w.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (w *watchBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.b)
}

// run is one life of the server process.
type run struct {
	cmd    *exec.Cmd
	stderr *watchBuffer
	exited chan struct{}
	err    error // Wait's, once exited is closed
	killed bool  // by the test
}

// xpushd is the server binary, started, killed and started again on one
// data directory and the same addresses. Its methods are called from one
// goroutine at a time.
type xpushd struct {
	bin, data string
	host      string // the loopback address it listens on
	log       *os.File
	logPath   string

	mu        sync.Mutex
	c2s, http string // fixed by the first start
	cur       *run
	starts    int
	kills     int
}

// newXpushd prepares a server on a fresh data directory under dir. It
// listens on a random address of 127.0.0.0/8, where no outgoing
// connection takes its ports while it is down between a kill and a
// start.
func newXpushd(bin, dir string, r *rand.Rand) (*xpushd, error) {
	logPath := filepath.Join(dir, "xpushd.log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("chaos: server log: %w", err)
	}
	host := fmt.Sprintf("127.%d.%d.%d", 100+r.IntN(100), r.IntN(256), 2+r.IntN(250))
	return &xpushd{bin: bin, data: filepath.Join(dir, "data"), host: host, log: f, logPath: logPath}, nil
}

// admin runs an admin command of the binary (token create, ...) and
// returns its standard output.
func (d *xpushd) admin(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, d.bin, append(args, "--data", d.data)...)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("xpushd %s: %w\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return strings.TrimSpace(string(out)), nil
}

var errAddrInUse = errors.New("chaos: address in use")

// start starts the server and waits for its ready line.
func (d *xpushd) start(ctx context.Context) error {
	for try := 1; ; try++ {
		err := d.startOnce(ctx)
		if !errors.Is(err, errAddrInUse) || try == startTries {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (d *xpushd) startOnce(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c2sAddr, httpAddr := d.c2s, d.http
	if c2sAddr == "" {
		c2sAddr, httpAddr = d.host+":0", d.host+":0"
	}
	r := &run{stderr: newWatchBuffer(64 << 10), exited: make(chan struct{})}
	stdout := newWatchBuffer(16 << 10)
	r.cmd = exec.Command(d.bin, "serve", "--data", d.data, "--c2s", c2sAddr, "--http", httpAddr,
		"--no-tls", "--log-level", "warn")
	r.cmd.Env = cleanEnv()
	r.cmd.Stdout = stdout
	r.cmd.Stderr = io.MultiWriter(d.log, r.stderr)
	fmt.Fprintf(d.log, "--- chaos: start %d at %s\n", d.starts+1, time.Now().Format(time.RFC3339Nano))
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("chaos: start xpushd: %w", err)
	}
	go func() { r.err = r.cmd.Wait(); close(r.exited) }()
	d.cur = r
	d.starts++
	timeout := time.NewTimer(readyWithin)
	defer timeout.Stop()
	for {
		if m := readyRE.FindStringSubmatch(stdout.String()); m != nil {
			if d.c2s == "" {
				d.c2s, d.http = m[1], m[2]
			}
			return nil
		}
		select {
		case <-stdout.changed:
		case <-r.exited:
			if strings.Contains(r.stderr.String(), "address already in use") {
				return errAddrInUse
			}
			return fmt.Errorf("chaos: xpushd exited before it was ready: %v\n%s", r.err, r.stderr)
		case <-timeout.C:
			r.killed = true
			_ = r.cmd.Process.Kill()
			<-r.exited
			return fmt.Errorf("chaos: xpushd not ready after %v\n%s", readyWithin, r.stderr)
		case <-ctx.Done():
			r.killed = true
			_ = r.cmd.Process.Kill()
			<-r.exited
			return ctx.Err()
		}
	}
}

// check returns an error when the server exited without the test
// killing or stopping it.
func (d *xpushd) check() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.cur
	if r == nil {
		return nil
	}
	select {
	case <-r.exited:
		if !r.killed {
			return fmt.Errorf("chaos: xpushd exited on its own: %v\n%s", r.err, r.stderr)
		}
	default:
	}
	return nil
}

// kill9 kills the server with SIGKILL: no shutdown, no last writes.
func (d *xpushd) kill9() error {
	if err := d.check(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.cur
	r.killed = true
	if err := r.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("chaos: kill xpushd: %w", err)
	}
	select {
	case <-r.exited:
	case <-time.After(stopWithin):
		return errors.New("chaos: xpushd outlived SIGKILL")
	}
	fmt.Fprintf(d.log, "--- chaos: SIGKILL at %s\n", time.Now().Format(time.RFC3339Nano))
	d.kills++
	return nil
}

// stop ends the server with SIGTERM and wants a clean exit.
func (d *xpushd) stop() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.cur
	if r == nil {
		return nil
	}
	select {
	case <-r.exited:
		if r.killed {
			return nil
		}
		return fmt.Errorf("chaos: xpushd exited on its own: %v", r.err)
	default:
	}
	r.killed = true
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(stopWithin):
		_ = r.cmd.Process.Kill()
		<-r.exited
		return fmt.Errorf("chaos: xpushd did not stop within %v of SIGTERM", stopWithin)
	}
	if r.err != nil {
		return fmt.Errorf("chaos: xpushd after SIGTERM: %w\n%s", r.err, r.stderr)
	}
	return nil
}

// close stops the server if it runs and closes its log.
func (d *xpushd) close() {
	d.mu.Lock()
	r := d.cur
	d.mu.Unlock()
	if r != nil {
		select {
		case <-r.exited:
		default:
			r.killed = true
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
	}
	d.log.Close()
}

// logProblems returns the lines of the server's log that show a data race
// or a panic, in any of its lives.
func (d *xpushd) logProblems() (string, error) {
	b, err := os.ReadFile(d.logPath)
	if err != nil {
		return "", err
	}
	var out []string
	for _, marker := range []string{"WARNING: DATA RACE", "panic:", "fatal error:"} {
		if i := bytes.Index(b, []byte(marker)); i >= 0 {
			end := min(len(b), i+4000)
			out = append(out, string(b[i:end]))
		}
	}
	return strings.Join(out, "\n...\n"), nil
}

// logTail returns the last n bytes of the server's log.
func (d *xpushd) logTail(n int64) string {
	f, err := os.Open(d.logPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	off := max(0, fi.Size()-n)
	b, _ := io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	return string(b)
}
