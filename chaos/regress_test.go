package chaos

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xpush/xpush/internal/faultproxy"
	"github.com/xpush/xpush/server"
	"github.com/xpush/xpush/server/api"
	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/xmpp"
)

// Regression tests for faults TestNoLoss found, each reduced to the
// smallest sequence of events that shows it, against an in-process
// server.

// regressPatience bounds every wait of these tests.
const regressPatience = 10 * time.Second

// inproc is an in-process server on loopback with a memory store, and a
// fault proxy in front of its c2s listener.
type inproc struct {
	t     *testing.T
	st    *store.Memory
	c2s   string
	proxy *faultproxy.Proxy
	api   *apiClient
}

func newInproc(t *testing.T) *inproc {
	t.Helper()
	st := store.NewMemory()
	srv, err := server.New(server.Options{Domain: domain, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const token = "regress-token"
	sum := sha256.Sum256([]byte(token))
	if err := st.CreateAPIToken(context.Background(), store.Token{Name: "regress", Hash: sum[:], Created: time.Now()}); err != nil {
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
	p, err := faultproxy.New(cl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return &inproc{t: t, st: st, c2s: cl.Addr().String(), proxy: p, api: newAPIClient(hl.Addr().String(), token, 2)}
}

// client starts a client for user through the proxy, quick to give a
// dead link up, and waits until it is online.
func (s *inproc) client(user string) *inbox {
	s.t.Helper()
	box := newInbox(user)
	ctx, cancel := context.WithCancel(context.Background())
	c, err := startClient(ctx, xmpp.Config{
		JID: user + "@" + domain, Server: s.proxy.Addr(), Password: passwordFunc(user), Register: true,
		// The link must outlive the server's hold of a sent state
		// (delivery.holdSent, a second) before the client gives it up.
		PingInterval: 3 * time.Second, PingTimeout: time.Second,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		Dial: countingDial(box, nil),
	}, box)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() {
		cancel()
		<-c.done
	})
	s.waitBox(box, "online", func(b *inbox) bool { return b.onlines == 1 })
	return box
}

// waitBox polls box until cond holds.
func (s *inproc) waitBox(box *inbox, what string, cond func(*inbox) bool) {
	s.t.Helper()
	deadline := time.Now().Add(regressPatience)
	for {
		box.mu.Lock()
		ok := cond(box)
		errs := fmt.Sprint(box.errs)
		box.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: not %s after %v (the client's errors: %s)", box.user, what, regressPatience, errs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// send posts a notification to user and returns its id.
func (s *inproc) send(id, user string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), regressPatience)
	defer cancel()
	if _, err := s.api.send(ctx, api.Request{ID: id, To: []string{user}, Title: id}); err != nil {
		s.t.Fatal(err)
	}
	return id
}

// state returns user's delivery state of id.
func (s *inproc) state(id, user string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), regressPatience)
	defer cancel()
	st, err := s.api.status(ctx, id)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, r := range st.Recipients {
		if r.User == user {
			return r.State
		}
	}
	s.t.Fatalf("%s has no recipient %s", id, user)
	return ""
}

func (s *inproc) waitState(id, user, want string) {
	s.t.Helper()
	deadline := time.Now().Add(regressPatience)
	for {
		got := s.state(id, user)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s for %s: %s after %v, want %s", id, user, got, regressPatience, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReplacedSessionRedelivers: a notification written to a session
// whose link then went dead must reach the client once it logs in again.
//
// The link stalls (no FIN reaches the server), the server pushes the
// notification into it (state sent), the client's ping times out and it
// connects again. Its XEP-0198 resumption fails, since the server still
// has the old session attached, so it binds anew with the same resource,
// which replaces the old session. Nothing may stay "sent" to a session
// that is gone.
//
// TestNoLoss found it as notifications delivered out of order (after a
// later SIGKILL requeued them at start-up) and, without a later restart
// or disconnection, as notifications never delivered.
func TestReplacedSessionRedelivers(t *testing.T) {
	s := newInproc(t)
	box := s.client("erin")
	stalled := s.proxy.Conns()
	s.proxy.StallConns(stalled...)
	id1 := s.send("before-the-replacement", "erin")
	// The server records it sent about a second after the write, if no
	// ack came; the client gives the link up later than that.
	s.waitState(id1, "erin", store.StateSent)
	box.mu.Lock()
	if box.offline > 0 {
		t.Fatal("the client gave the link up before the server recorded the push: the test needs a longer ping interval")
	}
	box.mu.Unlock()
	// The client gives the dead link up and logs in through a new
	// connection; the server still holds the old one.
	s.waitBox(box, "online again", func(b *inbox) bool { return b.onlines >= 2 })
	id2 := s.send("after-the-replacement", "erin")
	s.waitBox(box, "given "+id2, func(b *inbox) bool { return b.count[id2] > 0 })
	deadline := time.Now().Add(2 * time.Second)
	for {
		box.mu.Lock()
		first := append([]string(nil), box.first...)
		got := box.count[id1] > 0
		box.mu.Unlock()
		if got {
			if first[0] != id1 {
				t.Errorf("the client got %v: %s came before %s", first, id2, id1)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%s never reached the client (server state %s, session replaced); %s did", id1, s.state(id1, "erin"), id2)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.proxy.ResumeConns(stalled...)
}

// lateRelay is a TCP relay that holds the first chunk from a client
// carrying marker for delay before passing it on, as a congested link
// delivers a request late: the client may have given the connection up
// meanwhile, and the server still gets the request, then the close.
type lateRelay struct {
	l      net.Listener
	target string
	marker []byte
	delay  time.Duration
	wg     sync.WaitGroup

	mu    sync.Mutex
	armed bool // the next chunk with marker is held
	conns []net.Conn
	held  chan struct{} // closed once the held chunk went on
}

func newLateRelay(t *testing.T, target, marker string, delay time.Duration) *lateRelay {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &lateRelay{l: l, target: target, marker: []byte(marker), delay: delay, held: make(chan struct{})}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(func() {
		l.Close()
		r.mu.Lock()
		for _, c := range r.conns {
			c.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	})
	return r
}

func (r *lateRelay) arm() {
	r.mu.Lock()
	r.armed = true
	r.mu.Unlock()
}

// drop closes every connection so far, as a network change does.
func (r *lateRelay) drop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

func (r *lateRelay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.l.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", r.target)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		r.conns = append(r.conns, c, s)
		r.mu.Unlock()
		r.wg.Add(2)
		go func() { defer r.wg.Done(); r.copy(s, c, true) }()
		go func() { defer r.wg.Done(); r.copy(c, s, false) }()
	}
}

// copy copies src to dst; from the client, the armed marker's chunk
// waits delay first. At the end it closes both.
func (r *lateRelay) copy(dst, src net.Conn, fromClient bool) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if fromClient {
				r.mu.Lock()
				hold := r.armed && bytes.Contains(buf[:n], r.marker)
				if hold {
					r.armed = false
				}
				r.mu.Unlock()
				if hold {
					time.Sleep(r.delay)
					defer close(r.held)
				}
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestLateBindKeepsClientOnline: a client that gave a slow connection
// attempt up must stay online on its next connection when the server
// gets the abandoned attempt's bind request late.
//
// The first reconnection's bind request is held past the client's
// connect timeout; the client abandons that connection and logs in on a
// new one. When the held request reaches the server, it binds a session
// for the dead connection with the same resource, which replaces the
// live one: the server sends the live connection a conflict stream
// error ("replaced by a new login"), which the client takes for another
// device and never reconnects (xmpp.IsPermanent). Its notifications
// wait from then on until someone calls Reconnect.
//
// TestNoLoss found it under load (a -race server, logins slower than the
// clients' connect timeout): clients stuck offline with
// "stream: peer sent conflict: replaced by a new login".
func TestLateBindKeepsClientOnline(t *testing.T) {
	s := newInproc(t)
	relay := newLateRelay(t, s.c2s, "urn:ietf:params:xml:ns:xmpp-bind", 2*time.Second)
	box := newInbox("fay")
	ctx, cancel := context.WithCancel(context.Background())
	c, err := startClient(ctx, xmpp.Config{
		JID: "fay@" + domain, Server: relay.l.Addr().String(), Password: passwordFunc("fay"), Register: true,
		NoStreamManagement: true, // bind on every login, no resumption
		ConnectTimeout:     time.Second,
		BackoffMin:         20 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
	}, box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-c.done
	})
	s.waitBox(box, "online", func(b *inbox) bool { return b.onlines == 1 })
	relay.arm()
	relay.drop() // a network change: the next login's bind is late
	s.waitBox(box, "online again", func(b *inbox) bool { return b.onlines >= 2 })
	select {
	case <-relay.held:
	case <-time.After(regressPatience):
		t.Fatal("the held bind never went on")
	}
	id := s.send("after-the-late-bind", "fay")
	s.waitBox(box, "given "+id, func(b *inbox) bool { return b.count[id] > 0 })
}

// TestQueuedBeforeLive: a client that logs in gets the notifications
// queued while it was away before those sent after, even when the
// delivery worker is busy as it logs in.
//
// The worker is held up writing bulk to a stalled client. Meanwhile A
// waits queued for gus (offline since before A), B is sent to gus, and
// gus logs in. When the worker is free again it runs B's delivery first
// (queued before gus logged in): gus is bound by then, so B is pushed
// live; then the login's flush pushes A. gus gets B before A.
//
// TestNoLoss found it as notifications out of order after restarts,
// when every client logs in again while the worker is busy.
func TestQueuedBeforeLive(t *testing.T) {
	s := newInproc(t)
	s.client("slow")
	slowConns := s.proxy.Conns()
	probe := s.client("probe")
	ctx, cancel := context.WithTimeout(context.Background(), regressPatience)
	defer cancel()
	if err := register(ctx, s.c2s, []string{"gus"}, 1); err != nil {
		t.Fatal(err)
	}
	idA := s.send("queued-while-away", "gus")

	// Hold the worker up: bulk into a link that carries nothing.
	s.proxy.StallConns(slowConns...)
	body := strings.Repeat("bulk to fill the socket buffers. ", 60<<10/33)
	for i := range 80 {
		if _, err := s.api.send(ctx, api.Request{ID: fmt.Sprintf("bulk-%d", i), To: []string{"slow"}, Message: body}); err != nil {
			t.Fatal(err)
		}
	}
	idP := s.send("probe", "probe")
	time.Sleep(time.Second)
	probe.mu.Lock()
	free := probe.count[idP] > 0
	probe.mu.Unlock()
	if free {
		t.Fatal("the delivery worker is not held up by the stalled client: the test cannot show the order")
	}

	idB := s.send("sent-at-login", "gus")
	gus := newInbox("gus")
	gctx, gcancel := context.WithCancel(context.Background())
	g, err := startClient(gctx, xmpp.Config{JID: "gus@" + domain, Server: s.c2s, Password: passwordFunc("gus")}, gus)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		gcancel()
		<-g.done
	})
	s.waitBox(gus, "online", func(b *inbox) bool { return b.onlines == 1 })
	s.proxy.ResumeConns(slowConns...) // the worker goes on
	s.waitBox(gus, "given both", func(b *inbox) bool { return b.count[idA] > 0 && b.count[idB] > 0 })
	gus.mu.Lock()
	defer gus.mu.Unlock()
	if gus.first[0] != idA {
		t.Errorf("gus got %v: %s, sent after %s, came first", gus.first, idB, idA)
	}
}

// TestLongSession: a client with stream management (XEP-0198, on by
// default) keeps getting notifications past the server's bound on
// unacknowledged stanzas in one session.
//
// The server counts every stanza it sends in its resend queue until the
// client acknowledges it, bounded at 1,024 (c2s.maxUnacked), but never
// asks for an acknowledgement (<r/>), and the client sends <a/> only when
// asked. Past the bound pushes fail ("policy-violation: too many
// unacknowledged stanzas"), the session ends and is resumed, and the
// rest are then recorded sent but never written: the client, online,
// gets nothing more (1,024 pushes on the wire in all).
//
// TestNoLoss's long mode found it: a busy listener online, 183
// notifications queued for it for the whole settling (8 minutes).
func TestLongSession(t *testing.T) {
	const n = 1100 // past c2s.maxUnacked
	s := newInproc(t)
	box := s.client("hal")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range n {
		id := fmt.Sprintf("long-%d", i)
		if _, err := s.api.send(ctx, api.Request{ID: id, To: []string{"hal"}, Title: id}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(regressPatience)
	for {
		box.mu.Lock()
		got, errs, sessions := len(box.first), fmt.Sprint(box.errs), box.onlines
		errs += fmt.Sprintf(", %d pushes on the wire, %d resumed", box.wire, box.resumed)
		box.mu.Unlock()
		if got == n {
			break
		}
		if time.Now().After(deadline) {
			first := fmt.Sprintf("long-%d", got)
			t.Fatalf("the client got %d of %d notifications in %d sessions (errors: %s); %s is %s on the server, long-%d %s",
				got, n, sessions, errs, first, s.state(first, "hal"), n-1, s.state(fmt.Sprintf("long-%d", n-1), "hal"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCutLoginsDoNotLockOut: connections cut in the middle of a SCRAM
// exchange (a client that gave up, a network that failed) are not wrong
// passwords, and must not lock the address out.
//
// The server counts a login whose connection ends mid-exchange (EOF, a
// reset) as a failed login against the address, and five of those in a
// minute lock every account out from it for a minute. Every client
// behind one address (a NAT, here loopback) is refused then with
// "temporary-auth-failure", after a restart or a network blip cut a few
// logins short.
//
// TestNoLoss's long mode found it: 10,260 logins refused with
// temporary-auth-failure, none with a wrong password.
func TestCutLoginsDoNotLockOut(t *testing.T) {
	s := newInproc(t)
	ctx, cancel := context.WithTimeout(context.Background(), regressPatience)
	defer cancel()
	users := []string{"ivy", "jay", "kim", "lee", "max", "ned", "oz"}
	if err := register(ctx, s.c2s, users, 1); err != nil {
		t.Fatal(err)
	}
	for _, u := range users[:6] {
		cutLogin(t, s.c2s, u)
	}
	box := newInbox(users[6])
	c, err := startClient(ctx, xmpp.Config{JID: users[6] + "@" + domain, Server: s.c2s, Password: passwordFunc(users[6])}, box)
	if err != nil {
		t.Fatal(err)
	}
	s.waitBox(box, "online after six logins cut short from its address", func(b *inbox) bool { return b.onlines > 0 })
	cancel()
	<-c.done
}

// cutLogin opens a stream to addr, starts a SCRAM-SHA-256 login as user
// and closes the connection once the server's challenge came.
func cutLogin(t *testing.T, addr, user string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(regressPatience))
	if _, err := fmt.Fprintf(conn, `<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`, domain); err != nil {
		t.Fatal(err)
	}
	readUntil(t, conn, "</stream:features>")
	first := xmpp.EncodeSASL([]byte("n,,n=" + user + ",r=abcdefghijklmnop"))
	if _, err := fmt.Fprintf(conn, `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>%s</auth>`, first); err != nil {
		t.Fatal(err)
	}
	// The challenge, or a refusal once the address is locked out.
	readUntil(t, conn, "</challenge>", "</failure>")
}

// readUntil reads from conn until what it read holds one of markers.
func readUntil(t *testing.T, conn net.Conn, markers ...string) {
	t.Helper()
	var got []byte
	buf := make([]byte, 4096)
	for {
		for _, m := range markers {
			if bytes.Contains(got, []byte(m)) {
				return
			}
		}
		n, err := conn.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("reading for %v: %v; got %q", markers, err, got)
		}
	}
}
