package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/xpush/xpush/xmpp"
)

const domain = "localhost"

// password is every test account's password.
func password(user string) string { return "chaos-password-of-" + user }

func passwordFunc(user string) func(context.Context) (string, error) {
	pw := password(user)
	return func(context.Context) (string, error) { return pw, nil }
}

// register creates the accounts in-band, workers at a time, each with a
// client that registers, goes online once and stops.
//
// Each account registers from its own source address of 127.0.0.0/8: the
// client tries to log in first, as the paper's agent does, and the
// server counts the refusal as a failed login against the address (five
// a minute before it throttles).
func register(ctx context.Context, c2sAddr string, users []string, workers int) error {
	type job struct {
		user string
		from net.IP
	}
	jobs := make(chan job)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := registerOne(ctx, c2sAddr, j.user, j.from); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for i, u := range users {
		from := net.IPv4(127, 1, byte(i/250), byte(2+i%250))
		select {
		case jobs <- job{u, from}:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

func registerOne(ctx context.Context, c2sAddr, user string, from net.IP) error {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: from}}
	c, err := xmpp.New(xmpp.Config{
		JID: user + "@" + domain, Server: c2sAddr, Password: passwordFunc(user),
		Register: true, NoStreamManagement: true, BackoffMin: 50 * time.Millisecond, BackoffMax: time.Second,
		Dial: d.DialContext,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	registered, online := false, false
	var last error
	for ev := range c.Events() {
		switch ev := ev.(type) {
		case *xmpp.Registered:
			registered = true
		case *xmpp.StateChange:
			if ev.Err != nil {
				last = ev.Err
			}
			if ev.State == xmpp.StateOnline && !online {
				online = true
				cancel()
			}
		}
	}
	<-done
	switch {
	case !online:
		return fmt.Errorf("chaos: register %s: never online (last error: %v)", user, last)
	case !registered:
		return fmt.Errorf("chaos: register %s: online without registering: the account existed", user)
	}
	return nil
}

// client is an in-process xmpp client whose events go to its inbox.
type client struct {
	c    *xmpp.Client
	box  *inbox
	done chan struct{} // closed when the events are drained and Run returned
}

// startClient runs a client for box's account on ctx. The caller waits
// for done after ending ctx.
func startClient(ctx context.Context, cfg xmpp.Config, box *inbox) (*client, error) {
	c, err := xmpp.New(cfg)
	if err != nil {
		return nil, err
	}
	cl := &client{c: c, box: box, done: make(chan struct{})}
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()
	go func() {
		defer close(cl.done)
		for ev := range c.Events() {
			switch ev := ev.(type) {
			case *xmpp.Notified:
				box.got(ev.Notification.ID)
			case *xmpp.StateChange:
				switch {
				case ev.State == xmpp.StateOnline:
					box.online(ev.Resumed)
				case ev.State == xmpp.StateOffline && ev.Err != nil && ctx.Err() == nil:
					box.lost(ev.Err)
				}
			}
		}
		<-runErr
	}()
	return cl, nil
}

// notificationMarker is in every notification push on the wire.
var notificationMarker = []byte(`androidpn:iq:notification`)

// countingDial dials like net.Dialer (from the address from, when not
// nil) and counts the notification pushes read from each connection into
// box, redeliveries included: the client drops those itself, so only the
// wire shows them.
func countingDial(box *inbox, from net.IP) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	if from != nil {
		d.LocalAddr = &net.TCPAddr{IP: from}
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &countingConn{Conn: c, box: box}, nil
	}
}

// countingConn counts markers in what is read. Only the client's reader
// goroutine reads, so tail needs no lock.
type countingConn struct {
	net.Conn
	box  *inbox
	tail []byte // the end of the previous read, for a marker cut in two
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		buf := append(c.tail, p[:n]...)
		if k := bytes.Count(buf, notificationMarker); k > 0 {
			c.box.pushes(k)
		}
		keep := min(len(buf), len(notificationMarker)-1)
		c.tail = append(c.tail[:0], buf[len(buf)-keep:]...)
	}
	return n, err
}

// listener is an `xpush listen` process for one account, connected to
// the server directly.
type listener struct {
	user   string
	box    *inbox
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // Wait's, once exited is closed
	stderr *lineLog

	mu      sync.Mutex
	stopped bool         // SIGSTOPped now
	states  []stateEvent // its reports of going online and offline
}

// stateEvent is one state report of xpush listen on standard error.
type stateEvent struct {
	at   time.Time
	line string
}

// startListener starts bin listen for user against c2sAddr.
func startListener(bin, c2sAddr, home string, box *inbox) (*listener, error) {
	l := &listener{user: box.user, box: box, exited: make(chan struct{})}
	l.stderr = &lineLog{keep: 200, onLine: l.stateLine}
	l.cmd = exec.Command(bin, "listen", "--server", c2sAddr, "--jid", box.user+"@"+domain, "--password-stdin")
	l.cmd.Stdin = strings.NewReader(password(box.user) + "\n")
	l.cmd.Stdout = &lineLog{keep: 0, onLine: l.notificationLine}
	l.cmd.Stderr = l.stderr
	l.cmd.Env = append(cleanEnv(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_DATA_HOME="+home)
	if err := l.cmd.Start(); err != nil {
		return nil, fmt.Errorf("chaos: start xpush listen: %w", err)
	}
	go func() { l.err = l.cmd.Wait(); close(l.exited) }()
	return l, nil
}

// listenLine is the part of xpush listen's JSON line the test reads.
type listenLine struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
}

func (l *listener) notificationLine(line string, _ time.Time) {
	var n listenLine
	if err := json.Unmarshal([]byte(line), &n); err != nil || n.ID == "" {
		l.box.got("unparsable line: " + line)
		return
	}
	l.box.got(n.ID)
}

// stateLine reads xpush listen's state reports on standard error.
func (l *listener) stateLine(line string, at time.Time) {
	switch {
	case strings.HasPrefix(line, "xpush listen: online as "):
		l.box.online(false)
	case strings.HasPrefix(line, "xpush listen: offline: "):
		l.box.lost(errors.New(strings.TrimPrefix(line, "xpush listen: offline: ")))
	default:
		return
	}
	l.mu.Lock()
	l.states = append(l.states, stateEvent{at, line})
	l.mu.Unlock()
}

// after returns the first offline and the first online report after t.
func (l *listener) after(t time.Time) (offline, online *stateEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.states {
		ev := &l.states[i]
		if !ev.at.After(t) {
			continue
		}
		switch {
		case offline == nil && strings.Contains(ev.line, "offline: "):
			offline = ev
		case offline != nil && strings.Contains(ev.line, "online as "):
			return offline, ev
		case offline == nil:
			return nil, ev // online again without noticing a loss first
		}
	}
	return offline, nil
}

// signal sends sig to the process; SIGSTOP and SIGCONT are tracked so
// that the end can continue a stopped one.
func (l *listener) signal(sig syscall.Signal) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.exited:
		return fmt.Errorf("chaos: xpush listen for %s exited: %v\n%s", l.user, l.err, l.stderr)
	default:
	}
	if err := l.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("chaos: signal xpush listen for %s: %w", l.user, err)
	}
	switch sig {
	case syscall.SIGSTOP:
		l.stopped = true
	case syscall.SIGCONT:
		l.stopped = false
	}
	return nil
}

// stop ends the process with SIGTERM (after SIGCONT if stopped) and wants
// a clean exit.
func (l *listener) stop() error {
	select {
	case <-l.exited:
		return fmt.Errorf("chaos: xpush listen for %s exited early: %v\n%s", l.user, l.err, l.stderr)
	default:
	}
	_ = l.signal(syscall.SIGCONT)
	_ = l.signal(syscall.SIGTERM)
	select {
	case <-l.exited:
	case <-time.After(stopWithin):
		_ = l.cmd.Process.Kill()
		<-l.exited
		return fmt.Errorf("chaos: xpush listen for %s did not stop within %v of SIGTERM", l.user, stopWithin)
	}
	var ee *exec.ExitError
	if errors.As(l.err, &ee) {
		return fmt.Errorf("chaos: xpush listen for %s: %w\n%s", l.user, l.err, l.stderr)
	}
	return nil
}

// kill ends the process at once (cleanup after a failure).
func (l *listener) kill() {
	select {
	case <-l.exited:
	default:
		_ = l.cmd.Process.Kill()
		<-l.exited
	}
}

// lineLog is an io.Writer that hands each complete line to onLine with
// the time it was written, and keeps the last keep lines.
type lineLog struct {
	keep   int
	onLine func(line string, at time.Time)

	mu      sync.Mutex
	partial []byte
	lines   []string
}

func (w *lineLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		if w.keep > 0 {
			w.lines = append(w.lines, now.Format("15:04:05.000")+" "+line)
			if len(w.lines) > w.keep {
				w.lines = w.lines[len(w.lines)-w.keep:]
			}
		}
		if w.onLine != nil {
			w.onLine(line, now)
		}
	}
	if len(w.partial) > 1<<20 {
		w.partial = w.partial[:0] // a line this long is garbage
	}
	return len(p), nil
}

func (w *lineLog) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}
