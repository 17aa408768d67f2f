package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/xpush/xpush/server/api"
	"github.com/xpush/xpush/server/c2s"
	"github.com/xpush/xpush/server/console"
	"github.com/xpush/xpush/server/delivery"
	"github.com/xpush/xpush/server/metrics"
	"github.com/xpush/xpush/server/send"
	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/xmpp/stream"
)

// Options configure a Server.
type Options struct {
	Domain       string
	Store        store.Store
	TLS          *tls.Config
	AllowPlain   bool
	Registration string
	RegisterRate int
	LegacyDigest bool
	Iters        int
	Limits       stream.Limits
	IdleTimeout  time.Duration
	// OpenTimeout and AuthTimeout bound the negotiation of a c2s stream
	// (c2s.Options); zero takes the c2s defaults.
	OpenTimeout time.Duration
	AuthTimeout time.Duration
	// ConsoleSecure marks the console's session cookie Secure: set it
	// unless the console is reached on loopback over plain HTTP.
	ConsoleSecure bool
	Logger        *slog.Logger
	Now           func() time.Time
}

// Server is a running xpushd.
type Server struct {
	opts   Options
	C2S    *c2s.Server
	Hub    *delivery.Hub
	Sender *send.Sender
	http   *http.Server
	mux    *http.ServeMux
}

// New wires a Server. It does no I/O.
func New(opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("server: Options.Store is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var cs *c2s.Server
	m, err := metrics.New(nil, metrics.Sources{
		Sessions:   func() int { return cs.Sessions() },
		QueueDepth: func(ctx context.Context) (int, error) { return opts.Store.QueueDepth(ctx, opts.Now()) },
		Users:      opts.Store.CountUsers,
		Logger:     opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("server: metrics: %w", err)
	}
	hub := delivery.New(delivery.Options{Store: opts.Store, Metrics: m, Logger: opts.Logger, Now: opts.Now})
	cs, err = c2s.New(c2s.Options{
		Domain: opts.Domain, TLS: opts.TLS, AllowPlain: opts.AllowPlain,
		Registration: opts.Registration, RegisterRate: opts.RegisterRate, LegacyDigest: opts.LegacyDigest,
		Iters: opts.Iters, Limits: opts.Limits, IdleTimeout: opts.IdleTimeout,
		OpenTimeout: opts.OpenTimeout, AuthTimeout: opts.AuthTimeout,
		Users: opts.Store, Hub: hub, Metrics: m, Logger: opts.Logger, Now: opts.Now,
	})
	if err != nil {
		return nil, err
	}
	hub.SetSessions(cs)
	s := &Server{
		opts:   opts,
		C2S:    cs,
		Hub:    hub,
		Sender: &send.Sender{Store: opts.Store, Notifier: hub, Now: opts.Now},
		mux:    http.NewServeMux(),
	}
	(&api.Handler{Tokens: opts.Store, Sender: s.Sender, Logger: opts.Logger, Now: opts.Now}).Register(s.mux)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := opts.Store.CountUsers(r.Context()); err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	s.mux.Handle("GET /metrics", m.Handler())
	con, err := console.New(console.Options{
		Store:        opts.Store,
		Sender:       s.Sender,
		Presence:     console.C2SPresence(cs),
		Iters:        opts.Iters,
		LegacyDigest: opts.LegacyDigest,
		Secure:       opts.ConsoleSecure,
		Metrics:      m,
		Logger:       opts.Logger,
		Now:          opts.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("server: console: %w", err)
	}
	s.mux.Handle("/", con)
	s.http = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Handler returns the HTTP handler (API, health, metrics, console).
func (s *Server) Handler() http.Handler { return s.mux }

// Listeners are what Run serves on; nil ones are skipped.
type Listeners struct {
	C2S    net.Listener
	C2STLS net.Listener // direct TLS (XEP-0368)
	HTTP   net.Listener
}

// Run serves until ctx ends, then shuts down gracefully: it stops
// accepting, closes the XMPP streams with system-shutdown, lets HTTP
// requests in flight finish and writes the last acknowledgements, within
// grace.
func (s *Server) Run(ctx context.Context, ls Listeners, grace time.Duration) error {
	// No session survives a restart: whatever was sent and not acked
	// before it goes back to the queue.
	if n, err := s.opts.Store.UnsentAll(ctx, s.opts.Now()); err != nil {
		return fmt.Errorf("server: requeue unacked notifications: %w", err)
	} else if n > 0 {
		s.opts.Logger.Info("server: requeued notifications sent before the restart", "count", n)
	}
	hubCtx, stopHub := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHub()
	errc := make(chan error, 4)
	var wg sync.WaitGroup
	start := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, c2s.ErrServerClosed) {
				errc <- fmt.Errorf("server: %s: %w", name, err)
			}
		}()
	}
	start("delivery", func() error { return s.Hub.Run(hubCtx) })
	if ls.C2S != nil {
		start("c2s", func() error { return s.C2S.Serve(ls.C2S) })
	}
	if ls.C2STLS != nil {
		start("c2s tls", func() error { return s.C2S.ServeTLS(ls.C2STLS) })
	}
	if ls.HTTP != nil {
		start("http", func() error { return s.http.Serve(ls.HTTP) })
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := s.http.Shutdown(sctx); err != nil {
		s.opts.Logger.Warn("server: http shutdown", "err", err)
	}
	if err := s.C2S.Shutdown(sctx); err != nil && !errors.Is(err, c2s.ErrServerClosed) {
		s.opts.Logger.Warn("server: c2s shutdown", "err", err)
	}
	stopHub()
	wg.Wait()
	return runErr
}
