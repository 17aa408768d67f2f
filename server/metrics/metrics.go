package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ScrapeTimeout bounds how long a scrape waits for a gauge's source (a
// store query).
const ScrapeTimeout = 5 * time.Second

// Sources give the gauges their values at scrape time. A nil source
// leaves its gauge out.
type Sources struct {
	// Sessions counts bound c2s sessions (c2s.Server).
	Sessions func() int
	// QueueDepth counts deliveries neither acked nor expired
	// (store.Queue.QueueDepth at the current time).
	QueueDepth func(ctx context.Context) (int, error)
	// Users counts accounts (store.Users.CountUsers).
	Users func(ctx context.Context) (int, error)
	// Logger receives scrape errors; may be nil.
	Logger *slog.Logger
}

// Metrics holds xpushd's counters and serves its registry.
type Metrics struct {
	authFailures prometheus.Counter
	deliveries   prometheus.Counter
	acks         prometheus.Counter
	expired      prometheus.Counter
	handler      http.Handler
}

// New registers xpushd's metrics on reg. With reg nil, it makes a fresh
// registry with the Go runtime and process collectors. reg must also be a
// prometheus.Gatherer (a *prometheus.Registry is) for Handler to serve it.
func New(reg prometheus.Registerer, src Sources) (*Metrics, error) {
	if reg == nil {
		r := prometheus.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg = r
	}
	g, ok := reg.(prometheus.Gatherer)
	if !ok {
		return nil, errors.New("metrics: the registerer must also be a prometheus.Gatherer")
	}
	logger := src.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m := &Metrics{
		authFailures: counter("xpushd_auth_failures_total", "Failed logins (SASL, iq:auth, console)."),
		deliveries:   counter("xpushd_deliveries_total", "Notifications written to a client session."),
		acks:         counter("xpushd_acks_total", "Notifications acknowledged by a client."),
		expired:      counter("xpushd_expired_total", "Deliveries that reached their time to live unacknowledged."),
	}
	cs := []prometheus.Collector{m.authFailures, m.deliveries, m.acks, m.expired, newGauges(src, logger)}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	m.handler = promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             2 * ScrapeTimeout,
	})
	return m, nil
}

// AuthFailure counts a failed login; it implements c2s.Metrics.
func (m *Metrics) AuthFailure() { m.authFailures.Inc() }

// Delivered counts n notifications written to sessions; with Acked and
// Expired it implements delivery.Metrics.
func (m *Metrics) Delivered(n int) { add(m.deliveries, n) }

// Acked counts n acknowledgements.
func (m *Metrics) Acked(n int) { add(m.acks, n) }

// Expired counts n expired deliveries.
func (m *Metrics) Expired(n int) { add(m.expired, n) }

func add(c prometheus.Counter, n int) {
	if n > 0 {
		c.Add(float64(n))
	}
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return m.handler }

// gauges reads the gauges' sources on each scrape.
type gauges struct {
	src                                Sources
	logger                             *slog.Logger
	sessionsDesc, queueDesc, usersDesc *prometheus.Desc
}

func newGauges(src Sources, logger *slog.Logger) *gauges {
	return &gauges{
		src: src, logger: logger,
		sessionsDesc: prometheus.NewDesc("xpushd_sessions", "Bound client sessions.", nil, nil),
		queueDesc:    prometheus.NewDesc("xpushd_queue_depth", "Deliveries neither acknowledged nor expired.", nil, nil),
		usersDesc:    prometheus.NewDesc("xpushd_users", "Accounts.", nil, nil),
	}
}

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	if g.src.Sessions != nil {
		ch <- g.sessionsDesc
	}
	if g.src.QueueDepth != nil {
		ch <- g.queueDesc
	}
	if g.src.Users != nil {
		ch <- g.usersDesc
	}
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	if g.src.Sessions != nil {
		ch <- prometheus.MustNewConstMetric(g.sessionsDesc, prometheus.GaugeValue, float64(g.src.Sessions()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeTimeout)
	defer cancel()
	for _, s := range []struct {
		desc *prometheus.Desc
		f    func(context.Context) (int, error)
	}{{g.queueDesc, g.src.QueueDepth}, {g.usersDesc, g.src.Users}} {
		if s.f == nil {
			continue
		}
		n, err := s.f(ctx)
		if err != nil {
			g.logger.Warn("metrics: scrape", "metric", s.desc.String(), "err", err)
			ch <- prometheus.NewInvalidMetric(s.desc, err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(s.desc, prometheus.GaugeValue, float64(n))
	}
}
