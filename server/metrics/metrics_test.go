package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/xpush/xpush/server/c2s"
	"github.com/xpush/xpush/server/delivery"
)

// The interfaces the server wires *Metrics into.
var (
	_ c2s.Metrics      = (*Metrics)(nil)
	_ delivery.Metrics = (*Metrics)(nil)
)

func TestCounters(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg, Sources{})
	if err != nil {
		t.Fatal(err)
	}
	m.AuthFailure()
	m.AuthFailure()
	m.Delivered(3)
	m.Delivered(0)
	m.Delivered(-1) // ignored: counters only go up
	m.Acked(2)
	m.Expired(5)
	want := `
# HELP xpushd_acks_total Notifications acknowledged by a client.
# TYPE xpushd_acks_total counter
xpushd_acks_total 2
# HELP xpushd_auth_failures_total Failed logins (SASL, iq:auth, console).
# TYPE xpushd_auth_failures_total counter
xpushd_auth_failures_total 2
# HELP xpushd_deliveries_total Notifications written to a client session.
# TYPE xpushd_deliveries_total counter
xpushd_deliveries_total 3
# HELP xpushd_expired_total Deliveries that reached their time to live unacknowledged.
# TYPE xpushd_expired_total counter
xpushd_expired_total 5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

func TestGauges(t *testing.T) {
	reg := prometheus.NewRegistry()
	sessions, depth := 4, 17
	var gotCtx bool
	_, err := New(reg, Sources{
		Sessions: func() int { return sessions },
		QueueDepth: func(ctx context.Context) (int, error) {
			_, gotCtx = ctx.Deadline()
			return depth, nil
		},
		Users: func(context.Context) (int, error) { return 9, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP xpushd_queue_depth Deliveries neither acknowledged nor expired.
# TYPE xpushd_queue_depth gauge
xpushd_queue_depth 17
# HELP xpushd_sessions Bound client sessions.
# TYPE xpushd_sessions gauge
xpushd_sessions 4
# HELP xpushd_users Accounts.
# TYPE xpushd_users gauge
xpushd_users 9
`
	names := []string{"xpushd_sessions", "xpushd_queue_depth", "xpushd_users"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if !gotCtx {
		t.Error("QueueDepth got a context without a deadline")
	}
	// Gauges are read on every scrape.
	sessions, depth = 1, 0
	if n, err := testutil.GatherAndCount(reg, names...); err != nil || n != 3 {
		t.Fatalf("GatherAndCount = %d, %v", n, err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		switch mf.GetName() {
		case "xpushd_sessions":
			if v := mf.GetMetric()[0].GetGauge().GetValue(); v != 1 {
				t.Errorf("sessions = %v, want 1", v)
			}
		case "xpushd_queue_depth":
			if v := mf.GetMetric()[0].GetGauge().GetValue(); v != 0 {
				t.Errorf("queue depth = %v, want 0", v)
			}
		}
	}
}

func TestLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(reg, Sources{Sessions: func() int { return 0 }}); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestHandler(t *testing.T) {
	m, err := New(nil, Sources{
		Sessions:   func() int { return 2 },
		QueueDepth: func(context.Context) (int, error) { return 0, errors.New("store closed") },
		Users:      func(context.Context) (int, error) { return 3, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	m.Acked(1)
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	text := string(body)
	for _, want := range []string{"xpushd_acks_total 1", "xpushd_sessions 2", "xpushd_users 3", "go_goroutines", "process_"} {
		if !strings.Contains(text, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	// A failing source leaves its gauge out and keeps the rest.
	if strings.Contains(text, "xpushd_queue_depth ") {
		t.Error("scrape has a queue depth although its source failed")
	}
}

func TestDuplicateRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(reg, Sources{}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(reg, Sources{}); err == nil {
		t.Error("second New on one registry succeeded")
	}
}

type registererOnly struct{ prometheus.Registerer }

func TestRegistererMustGather(t *testing.T) {
	if _, err := New(registererOnly{prometheus.NewRegistry()}, Sources{}); err == nil {
		t.Error("New accepted a registerer it cannot serve")
	}
}
