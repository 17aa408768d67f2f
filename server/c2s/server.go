package c2s

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/xmpp/stream"
)

// Registration modes.
const (
	RegisterOpen   = "open"
	RegisterToken  = "token"
	RegisterClosed = "closed"
)

// Defaults.
const (
	DefaultOpenTimeout  = 10 * time.Second // header, STARTTLS, SASL steps
	DefaultAuthTimeout  = 30 * time.Second // from accept to bound
	DefaultIdleTimeout  = 200 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultResumeWindow = 60 * time.Second
	DefaultMaxSessions  = 100_000
	DefaultMaxPerUser   = 16
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("c2s: server closed")

// Hub is what the server reports bound sessions to.
type Hub interface {
	// Bound is called once a session is online (also after a resumption
	// with Resumed set). It must not block for long.
	Bound(s *Session)
	// Unbound is called when a session is gone for good.
	Unbound(s *Session)
	// Acked is called when the client acknowledged notification id.
	Acked(s *Session, id string)
	// Nacked is called when the client answered notification id with an
	// error: it will not take it.
	Nacked(s *Session, id string, err error)
}

// Metrics counts what only the listener sees.
type Metrics interface {
	AuthFailure()
}

// Users is the part of the store the listener needs.
type Users interface {
	CreateUser(ctx context.Context, u store.User) error
	User(ctx context.Context, name string) (store.User, error)
	UseInvite(ctx context.Context, hash []byte, now time.Time) error
}

// Options configure a Server.
type Options struct {
	Domain string
	// TLS enables STARTTLS (and a direct-TLS listener with ServeTLS).
	TLS *tls.Config
	// AllowPlain lets clients that are not on loopback log in without TLS.
	AllowPlain bool
	// Registration is open, token or closed.
	Registration string
	// RegisterRate limits registrations per IP per minute (0: no limit).
	// Loopback is never limited.
	RegisterRate int
	// LegacyDigest enables jabber:iq:auth <digest/>, which needs clear
	// passwords kept in the store. Off by default.
	LegacyDigest bool
	// Iters is the PBKDF2 iteration count for new accounts.
	Iters int

	Limits       stream.Limits
	OpenTimeout  time.Duration
	AuthTimeout  time.Duration
	IdleTimeout  time.Duration
	WriteTimeout time.Duration
	ResumeWindow time.Duration
	MaxSessions  int
	MaxPerUser   int

	Users   Users
	Hub     Hub
	Metrics Metrics // may be nil
	Logger  *slog.Logger
	Now     func() time.Time
}

// Server accepts c2s connections.
type Server struct {
	opts     Options
	limiter  *limiter
	regLimit *limiter

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	sessions  int
	resumable map[string]*Session   // by SM id
	bound     map[string][]*Session // by user; never changed in place
	// closed is set under mu, and read under mu or, where a lock would
	// cost too much, alone.
	closed atomic.Bool
	wg     sync.WaitGroup
}

// New returns a Server. It does no I/O.
func New(opts Options) (*Server, error) {
	if opts.Users == nil || opts.Hub == nil {
		return nil, errors.New("c2s: Options.Users and Options.Hub are required")
	}
	if opts.Domain == "" {
		opts.Domain = "localhost"
	}
	switch opts.Registration {
	case "":
		opts.Registration = RegisterOpen
	case RegisterOpen, RegisterToken, RegisterClosed:
	default:
		return nil, fmt.Errorf("c2s: registration must be open, token or closed, not %q", opts.Registration)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.OpenTimeout, DefaultOpenTimeout)
	def(&opts.AuthTimeout, DefaultAuthTimeout)
	def(&opts.IdleTimeout, DefaultIdleTimeout)
	def(&opts.WriteTimeout, DefaultWriteTimeout)
	def(&opts.ResumeWindow, DefaultResumeWindow)
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.MaxPerUser <= 0 {
		opts.MaxPerUser = DefaultMaxPerUser
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{
		opts:      opts,
		limiter:   newLimiter(5, time.Minute, 100_000),
		regLimit:  newLimiter(max(opts.RegisterRate, 1), time.Minute, 100_000),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[net.Conn]struct{}),
		resumable: make(map[string]*Session),
		bound:     make(map[string][]*Session),
	}, nil
}

// Serve accepts connections on l until Shutdown or Close. With direct set,
// each connection starts with a TLS handshake (XEP-0368).
func (s *Server) serve(l net.Listener, direct bool) error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		conn, err := l.Accept()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.opts.Logger.Warn("c2s: accept failed; retrying", "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("c2s: accept: %w", err)
		}
		delay = 0
		if !s.track(conn) {
			conn.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			newConn(s, conn, direct).run() // closes and untracks conn when it is done with it
		}()
	}
}

// Serve accepts plain connections (STARTTLS offered when TLS is set).
func (s *Server) Serve(l net.Listener) error { return s.serve(l, false) }

// ServeTLS accepts direct-TLS connections.
func (s *Server) ServeTLS(l net.Listener) error {
	if s.opts.TLS == nil {
		return errors.New("c2s: ServeTLS needs Options.TLS")
	}
	return s.serve(l, true)
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

func (s *Server) isClosed() bool { return s.closed.Load() }

// setReadDeadline sets nc's read deadline to d, unless the server is
// shutting down: Shutdown sets every connection's deadline in the past to
// wake its reader, and a reader that sets its own at the same time must
// not undo that. closed is set before Shutdown's deadlines, so if this
// one came after them, the second look sees it.
func (s *Server) setReadDeadline(nc net.Conn, d time.Time) {
	if !s.closed.Load() {
		_ = nc.SetReadDeadline(d)
		if !s.closed.Load() {
			return
		}
	}
	_ = nc.SetReadDeadline(time.Unix(1, 0))
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown stops accepting, ends every stream with system-shutdown and
// waits for the connections to finish, or for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.closed.Store(true)
	for l := range s.listeners {
		l.Close()
	}
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	resumable := s.resumable
	s.resumable = map[string]*Session{}
	s.mu.Unlock()
	for _, c := range conns {
		// Unblock the reader; its goroutine writes the stream error.
		_ = c.SetReadDeadline(time.Unix(1, 0))
	}
	for _, sess := range resumable {
		sess.expire()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close closes every listener and connection at once.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed.Store(true)
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	return nil
}

// Sessions returns how many sessions are bound.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}
