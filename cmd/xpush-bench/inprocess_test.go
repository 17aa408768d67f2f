package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/xpush/xpush/server"
	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/server/store/sqlite"
)

// BenchmarkInProcess runs a whole xpush-bench run against an xpushd built
// in this process on the SQLite store, as the xpushd binary builds it, so
// that a CPU profile holds the server's code with symbols:
//
//	go test -run '^$' -bench InProcess -benchtime 1x -cpuprofile cpu.out ./cmd/xpush-bench
//	go tool pprof -top -cum -focus 'xpush/server|modernc' cpu.out
//
// The tool runs in the same process, so the profile holds it too; focus
// on the server's packages. XPUSH_BENCH_SESSIONS sets N (default 1000).
func BenchmarkInProcess(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("XPUSH_BENCH_SESSIONS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	dir := b.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "xpushd.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	srv, err := server.New(server.Options{Domain: "localhost", Store: st})
	if err != nil {
		b.Fatal(err)
	}
	cl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	const token = "in-process-bench-token"
	sum := sha256.Sum256([]byte(token))
	if err := st.CreateAPIToken(ctx, store.Token{Name: "bench", Hash: sum[:], Created: time.Now()}); err != nil {
		b.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(sctx, server.Listeners{C2S: cl, HTTP: hl}, 5*time.Second) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("server: %v", err)
		}
	}()
	out := filepath.Join(dir, "result.json")
	for b.Loop() {
		var stdout, stderr bytes.Buffer
		code := run(ctx, []string{
			"run", "--server", cl.Addr().String(), "--sessions", strconv.Itoa(n), "--register",
			"--pid", strconv.Itoa(os.Getpid()), "--api", "http://" + hl.Addr().String(), "--token", token,
			"--idle", "1s", "--latency-samples", "300", "--broadcast-rounds", "3", "--out", out,
		}, &stdout, &stderr)
		if code != exitOK {
			b.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
		}
	}
	r, err := readResult(out)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.Logins.PerSec, "logins/s")
	b.ReportMetric(r.Latency.Push.P99, "push-p99-ms")
	b.ReportMetric(r.Latency.Ack.P99, "ack-p99-ms")
	b.ReportMetric(r.Broadcast.DeliveriesPerSec, "deliveries/s")
}
