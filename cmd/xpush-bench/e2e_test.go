package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xpush/xpush/internal/testserver"
	"github.com/xpush/xpush/server"
	"github.com/xpush/xpush/server/store"
)

// xpushd is an in-process xpushd on loopback with an in-memory store and
// an API token, as server/server_test.go builds it.
type xpushd struct {
	c2s, http, token string
}

func startXpushd(t *testing.T) *xpushd {
	t.Helper()
	st := store.NewMemory()
	srv, err := server.New(server.Options{Domain: "localhost", Store: st})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	x := &xpushd{c2s: cl.Addr().String(), http: "http://" + hl.Addr().String(), token: "bench-test-token"}
	sum := sha256.Sum256([]byte(x.token))
	if err := st.CreateAPIToken(context.Background(), store.Token{Name: "bench", Hash: sum[:], Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, server.Listeners{C2S: cl, HTTP: hl}, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return x
}

// runTool runs xpush-bench with args and returns its exit code, output
// and result.
func runTool(t *testing.T, args ...string) (int, string, *Result) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "result.json")
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), append(args, "--out", out), &stdout, &stderr)
	t.Logf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	r, err := readResult(out)
	if err != nil {
		t.Fatalf("no result: %v", err)
	}
	return code, stdout.String(), r
}

func TestRunAgainstXpushd(t *testing.T) {
	x := startXpushd(t)
	const n = 20
	code, stdout, r := runTool(t, "run",
		"--server", x.c2s, "--domain", "localhost", "--sessions", strconv.Itoa(n), "--register",
		"--sources", "127.0.0.1,127.0.0.2,127.0.0.3",
		"--pid", strconv.Itoa(os.Getpid()), "--api", x.http, "--token", x.token,
		"--idle", "200ms", "--latency-samples", "20", "--latency-warmup", "2", "--broadcast-rounds", "2",
		"--timeout", "30s")
	if code != exitOK {
		t.Fatalf("exit %d, errors %q", code, r.Errors)
	}
	if r.Server.Kind != "xpushd" || r.Sessions != n || r.Online != n || r.NoFile.Soft == 0 {
		t.Errorf("server %+v, sessions %d, online %d, nofile %+v", r.Server, r.Sessions, r.Online, r.NoFile)
	}
	if a := r.Accounts; a == nil || a.Registered != n || a.Failed != 0 || a.PerSec <= 0 {
		t.Errorf("accounts: %+v", a)
	}
	if p := r.Prederive; p == nil || p.Probed != n || p.Failed != 0 {
		t.Errorf("prederive: %+v", p)
	}
	if l := r.Logins; l == nil || l.OK != n || l.Failed != 0 || l.PerSec <= 0 || l.Each.N != n || !strings.HasPrefix(l.Mechanism, "SCRAM-") {
		t.Errorf("logins: %+v", l)
	}
	if i := r.Idle; i == nil || i.RSSBeforeKiB <= 0 || i.RSSAfterKiB <= 0 || i.ServerCPUTotal <= 0 || i.ToolRSSKiB <= 0 {
		t.Errorf("idle: %+v", i)
	}
	l := r.Latency
	if l == nil || l.Mode != "api" || l.Samples != 20 || l.Lost != 0 || l.Push.N != 20 || l.Push.P50 <= 0 ||
		l.Ack == nil || l.Ack.N != 20 || l.Ack.P50 < l.Push.P50 || l.Post == nil || l.Post.N != 20 {
		t.Errorf("latency: %+v ack %+v", l, l.Ack)
	}
	b := r.Broadcast
	if b == nil || b.Mode != "api" || len(b.Rounds) != 2 || b.DeliveriesPerSec <= 0 {
		t.Fatalf("broadcast: %+v", b)
	}
	for i, rd := range b.Rounds {
		if rd.Recipients != n || rd.Delivered != n || rd.Acked != n || rd.AckedSeconds <= 0 || rd.Error != "" {
			t.Errorf("round %d: %+v", i+1, rd)
		}
	}
	for _, want := range []string{"logins", "RSS", "push-to-ack", "broadcast", "round 2"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the table lacks %q", want)
		}
	}
	if len(r.Command) == 0 || r.GoVersion == "" || r.Date.IsZero() {
		t.Errorf("command %q, go %q, date %v", r.Command, r.GoVersion, r.Date)
	}
}

// Without --api the tool sends headlines from a second session; xpushd
// routes no messages, and the tool must say so at once, not wait.
func TestRunMessageModeRefused(t *testing.T) {
	x := startXpushd(t)
	start := time.Now()
	code, _, r := runTool(t, "run",
		"--server", x.c2s, "--sessions", "3", "--register", "--pid", strconv.Itoa(os.Getpid()),
		"--idle", "10ms", "--latency-samples", "2", "--latency-warmup", "0", "--broadcast-rounds", "1",
		"--sample-timeout", "20s", "--round-timeout", "20s", "--timeout", "30s")
	if code != exitFail {
		t.Errorf("exit %d, want %d", code, exitFail)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %v: the refusals were not noticed", time.Since(start))
	}
	if l := r.Latency; l == nil || l.Mode != "message" || l.Lost != 2 || !strings.Contains(summary(l.Errors), "service-unavailable") {
		t.Errorf("latency: %+v", l)
	}
	if b := r.Broadcast; b == nil || len(b.Rounds) != 1 || b.Rounds[0].Delivered != 0 || !strings.Contains(b.Rounds[0].Error, "refused") {
		t.Errorf("broadcast: %+v", b)
	}
}

// Against Prosody, a standard server, latency and broadcast travel as
// headline messages from a sender session.
func TestRunAgainstProsody(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prosody")
	}
	p := testserver.Start(t, testserver.Prosody)
	const n = 10
	code, _, r := runTool(t, "run",
		"--server", p.Addr, "--sessions", strconv.Itoa(n), "--register", "--tls", "--tls-ca", p.CA,
		"--idle", "100ms", "--latency-samples", "10", "--latency-warmup", "1", "--broadcast-rounds", "1", "--timeout", "30s")
	if code != exitOK {
		t.Fatalf("exit %d, errors %q", code, r.Errors)
	}
	if r.Server.Kind != "prosody" || r.Server.PID == 0 || r.Idle.RSSAfterKiB == 0 {
		t.Errorf("server %+v idle %+v", r.Server, r.Idle)
	}
	if l := r.Latency; l.Mode != "message" || l.Push.N != 10 || l.Ack != nil {
		t.Errorf("latency: %+v", l)
	}
	if b := r.Broadcast; b.Rounds[0].Delivered != n {
		t.Errorf("broadcast: %+v", b)
	}
}
