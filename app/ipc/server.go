package ipc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/xpush/xpush/app/control"
)

// ErrRunning is returned by Listen when another agent holds the socket.
var ErrRunning = errors.New("ipc: an xpush agent is already running")

// ErrServerClosed is returned by Serve after Close or a first Serve.
var ErrServerClosed = errors.New("ipc: server closed")

// Server serves a control.Agent on the socket. It owns the listener, the
// connections it accepted and the lock next to the socket; Close, or the
// end of Serve, releases all three and removes the socket file.
type Server struct {
	// Logger receives warnings (a refused peer, a panicking agent method);
	// nil means slog.Default(). Set it before Serve.
	Logger *slog.Logger

	path string
	ln   *net.UnixListener
	lock io.Closer
	uid  int // the peer's user id to accept, where checkPeer can tell
	sem  chan struct{}

	readTimeout time.Duration // ReadTimeout; shorter in tests

	mu      sync.Mutex
	serving bool
	closed  bool
	cancel  context.CancelFunc
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// Listen makes the socket's folder, takes the lock next to the socket and
// listens at path. It returns ErrRunning, possibly wrapped with why the
// agent did not answer a ping, when another process holds the lock or a
// live agent answers at path; a socket file that nobody serves, left
// behind by a crash, is removed and replaced. A path that exists and is
// not a socket is an error and left alone.
func Listen(path string) (*Server, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if err := prepareDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("ipc: %w", err)
	}
	lk, err := lockFile(path + ".lock")
	if errors.Is(err, errLocked) {
		ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
		defer cancel()
		if err := Dial(path).ping(ctx); err != nil {
			return nil, fmt.Errorf("%w, but it does not answer at %s: %v", ErrRunning, path, err)
		}
		return nil, ErrRunning
	}
	if err != nil {
		return nil, fmt.Errorf("ipc: lock: %w", err)
	}
	ln, err := listen(path)
	if err != nil {
		lk.Close()
		return nil, err
	}
	return &Server{
		path:  path,
		ln:    ln,
		lock:  lk,
		uid:   os.Geteuid(),
		sem:   make(chan struct{}, MaxConns),
		conns: make(map[net.Conn]struct{}),

		readTimeout: ReadTimeout,
	}, nil
}

// listen replaces a stale socket at path and listens there. The caller
// holds the lock, so a socket file here was normally left by a crash; it
// is pinged anyway, in case an agent lost its lock file and still serves.
func listen(path string) (*net.UnixListener, error) {
	fi, err := os.Lstat(path)
	switch {
	case err == nil:
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("ipc: %s exists and is not a socket", path)
		}
		ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
		err := Dial(path).ping(ctx)
		cancel()
		if err == nil {
			return nil, ErrRunning
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("ipc: remove stale socket: %w", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("ipc: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("ipc: %w", err)
	}
	if err := restrictSocket(path); err != nil {
		ln.Close()
		return nil, fmt.Errorf("ipc: %w", err)
	}
	return ln, nil
}

// Path returns the socket's path.
func (s *Server) Path() string { return s.path }

// Serve accepts connections and answers their requests with agent until
// ctx ends or Close is called, then closes the server (see Close), waits
// for the goroutines it started, and returns nil. The context each agent
// method gets ends with ctx, with Close, or after the op's timeout.
// Serve may be called once; after that, or after Close, it returns
// ErrServerClosed.
func (s *Server) Serve(ctx context.Context, agent control.Agent) error {
	if agent == nil {
		return errors.New("ipc: Serve with a nil agent")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	if s.serving || s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.serving = true
	s.cancel = cancel
	s.mu.Unlock()

	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	err := s.accept(ctx, agent)
	s.Close()
	s.wg.Wait()
	return err
}

// accept is Serve's accept loop. It returns nil once the server is
// closing, and backs off on temporary errors such as running out of file
// descriptors.
func (s *Server) accept(ctx context.Context, agent control.Agent) error {
	var backoff time.Duration
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if te, ok := err.(interface{ Temporary() bool }); !ok || !te.Temporary() {
				return fmt.Errorf("ipc: accept: %w", err)
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logger().Warn("ipc: accept failed; retrying", "err", err, "in", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		backoff = 0
		if !s.acquire(ctx) {
			s.refuse(conn)
			continue
		}
		if !s.track(conn) {
			<-s.sem
			conn.Close()
			return nil
		}
		go s.handle(ctx, conn, agent)
	}
}

// acquire takes a connection slot, waiting up to busyWait for one (a
// client that has its answer may not have closed its connection yet).
// Meanwhile further connections wait in the kernel's backlog.
func (s *Server) acquire(ctx context.Context) bool {
	select {
	case s.sem <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(busyWait)
	defer t.Stop()
	select {
	case s.sem <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// refuse answers a connection beyond MaxConns with an error and closes it.
// The line is short and the socket buffer empty, so the write does not
// wait; its deadline is a guard.
func (s *Server) refuse(conn net.Conn) {
	defer conn.Close()
	s.logger().Warn("ipc: too many connections; refusing one", "max", MaxConns)
	b, _ := encodeLine(response{Error: fmt.Sprintf("ipc: the agent is busy (%d connections)", MaxConns)})
	conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	conn.Write(b)
}

// track registers conn for Close and the wait in Serve; it reports false
// when the server is closing.
func (s *Server) track(conn net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[conn] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(conn net.Conn) {
	s.mu.Lock()
	delete(s.conns, conn)
	s.mu.Unlock()
	conn.Close()
	<-s.sem
	s.wg.Done()
}

// handle answers the requests on one connection until the client closes
// it, a read fails or times out, a request is too large, or the server
// closes.
func (s *Server) handle(ctx context.Context, conn net.Conn, agent control.Agent) {
	defer s.untrack(conn)
	if err := checkPeer(conn, s.uid); err != nil {
		s.logger().Warn("ipc: refused a connection", "err", err)
		return
	}
	br := bufio.NewReader(conn)
	for {
		conn.SetReadDeadline(time.Now().Add(s.readTimeout))
		line, err := readLine(br, MaxMessageSize)
		if errors.Is(err, ErrTooLarge) {
			s.write(conn, response{Error: ErrTooLarge.Error()})
			return
		}
		if err != nil {
			return
		}
		resp := s.dispatch(ctx, agent, line)
		if ctx.Err() != nil {
			// The server is closing: the agent's answer may be only
			// its context's error. Hang up, so the client sees the
			// agent go away (control.ErrNotRunning).
			return
		}
		if err := s.write(conn, resp); err != nil {
			return
		}
	}
}

// write sends one response line.
func (s *Server) write(conn net.Conn, resp response) error {
	b, err := encodeLine(resp)
	if err != nil {
		if b, err = encodeLine(response{Error: "ipc: the answer is too large to send: " + err.Error()}); err != nil {
			return err
		}
	}
	conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err = conn.Write(b)
	return err
}

// dispatch decodes one request line and calls agent. A panic in the agent
// becomes an error answer and a log entry with the stack.
func (s *Server) dispatch(ctx context.Context, agent control.Agent, line []byte) (resp response) {
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		return response{Error: "ipc: malformed request: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout(req.Op))
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			s.logger().Error("ipc: agent method panicked", "op", req.Op, "panic", r, "stack", string(debug.Stack()))
			resp = response{Error: "ipc: internal error in the agent"}
		}
	}()
	var err error
	switch req.Op {
	case opPing:
	case opStatus:
		var st control.Status
		st, err = agent.Status(ctx)
		resp.Status = &st
	case opSetDND:
		err = agent.SetDND(ctx, req.Until)
	case opAccount:
		var a control.Account
		a, err = agent.Account(ctx)
		resp.Account = &a
	case opSaveAccount:
		if req.Account == nil {
			return response{Error: `ipc: save_account without "account"`}
		}
		err = agent.SaveAccount(ctx, *req.Account, req.Password, req.Create)
	case opSettings:
		var st control.Settings
		st, err = agent.Settings(ctx)
		resp.Settings = &st
	case opSaveSettings:
		if req.Settings == nil {
			return response{Error: `ipc: save_settings without "settings"`}
		}
		err = agent.SaveSettings(ctx, *req.Settings)
	case opOpen:
		err = agent.Open(ctx, req.Key)
	case opShow:
		err = agent.Show(ctx, req.Window)
	case "":
		return response{Error: `ipc: request without "op"`}
	default:
		return response{Error: fmt.Sprintf("ipc: unknown op %q", req.Op)}
	}
	if err != nil {
		return response{Error: err.Error()}
	}
	return resp
}

// Close stops listening, removes the socket file, closes the connections
// and cancels the agent methods in progress, and releases the lock (in
// that order, so that a next agent never sees its socket removed by this
// one). It does not wait for the connection goroutines; Serve does. Close
// may be called more than once, also without Serve; later calls return
// the first one's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		cancel := s.cancel
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		s.closeErr = s.ln.Close()
		if err := s.lock.Close(); err != nil && s.closeErr == nil {
			s.closeErr = err
		}
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("ipc: close: %w", s.closeErr)
		}
	})
	return s.closeErr
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
