package xmpp

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xpush/xpush/xmpp/internal/xmpptest"
	"github.com/xpush/xpush/xmpp/notification"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// Test accounts and timings. The timers a test does not exercise are an
// hour long, so that no keepalive or ping shows up uninvited; the backoff
// is milliseconds so that reconnects are quick.
const (
	testDomain   = xmpptest.DefaultDomain
	testUser     = "alice"
	testJID      = testUser + "@" + testDomain
	testPassword = "correct horse battery staple"
	testResource = "desk"
	testFull     = testJID + "/" + testResource
	// waitTimeout bounds every wait for an event.
	waitTimeout = 5 * time.Second
	// quiet is how long an absence check waits: it only has to catch a
	// client that would act at once.
	quiet = 50 * time.Millisecond
)

// counterID returns ids "1", "2", ... for reproducible transcripts.
func counterID() func() string {
	var n atomic.Int64
	return func() string { return fmt.Sprint(n.Add(1)) }
}

// testConfig is a client configuration for the dialer d.
func testConfig(t testing.TB, d *xmpptest.Dialer) Config {
	cfg := Config{
		JID:            testJID,
		Resource:       testResource,
		Password:       func(context.Context) (string, error) { return testPassword, nil },
		Server:         testDomain + ":5222",
		Dial:           d.Dial,
		ID:             counterID(),
		Keepalive:      time.Hour,
		PingInterval:   time.Hour,
		PingTimeout:    time.Hour,
		ConnectTimeout: 10 * time.Second,
		WriteTimeout:   5 * time.Second,
		BackoffMin:     time.Millisecond,
		BackoffMax:     5 * time.Millisecond,
	}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return cfg
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// pair is a client under test and the dialer its connections go to.
type pair struct {
	t      *testing.T
	c      *Client
	d      *xmpptest.Dialer
	acc    *xmpptest.Accounts
	cancel context.CancelFunc
	done   chan error // Run's result
}

// newPair builds a client whose configuration mod may change, without
// starting it.
func newPair(t *testing.T, mod func(*Config)) *pair {
	t.Helper()
	d := xmpptest.NewDialer(t)
	cfg := testConfig(t, d)
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &pair{t: t, c: c, d: d, acc: xmpptest.NewAccounts(testUser, testPassword)}
}

// start runs the client until the test ends; the cleanup stops it and
// waits for Run to return.
func (p *pair) start() *pair {
	p.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.done = make(chan error, 1)
	go func() { p.done <- p.c.Run(ctx) }()
	p.t.Cleanup(func() {
		if err := p.stop(); !errors.Is(err, context.Canceled) {
			p.t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
	return p
}

// startPair is newPair and start.
func startPair(t *testing.T, mod func(*Config)) *pair {
	t.Helper()
	return newPair(t, mod).start()
}

// stop cancels Run, drains the events and returns Run's error. It may be
// called more than once.
func (p *pair) stop() error {
	p.cancel()
	timeout := time.NewTimer(waitTimeout)
	defer timeout.Stop()
	for {
		select {
		case _, ok := <-p.c.Events():
			if ok {
				continue
			}
			select {
			case err := <-p.done:
				p.done <- err // for a second stop
				return err
			case <-timeout.C:
				return errors.New("Run did not return after closing the events")
			}
		case <-timeout.C:
			return errors.New("Run did not return")
		}
	}
}

// event returns the next event, failing the test after waitTimeout.
func (p *pair) event() Event {
	p.t.Helper()
	t := time.NewTimer(waitTimeout)
	defer t.Stop()
	select {
	case ev, ok := <-p.c.Events():
		if !ok {
			p.t.Fatal("events closed")
		}
		return ev
	case <-t.C:
		p.t.Fatalf("no event within %v", waitTimeout)
	}
	return nil
}

// state checks that the next event is a change to want, and returns it.
func (p *pair) state(want State) *StateChange {
	p.t.Helper()
	ev := p.event()
	sc, ok := ev.(*StateChange)
	if !ok || sc.State != want {
		p.t.Fatalf("got event %s, want state %v", describe(ev), want)
	}
	return sc
}

// offline checks that the next event reports the client offline with an
// error, and returns it.
func (p *pair) offline() *StateChange {
	p.t.Helper()
	sc := p.state(StateOffline)
	if sc.Err == nil {
		p.t.Fatal("offline without an error")
	}
	return sc
}

// notified checks that the next event is a notification and returns it.
func (p *pair) notified() *notification.Notification {
	p.t.Helper()
	ev := p.event()
	n, ok := ev.(*Notified)
	if !ok {
		p.t.Fatalf("got event %s, want a notification", describe(ev))
	}
	return n.Notification
}

// noEvent checks that no event is waiting on the channel now.
func (p *pair) noEvent() {
	p.t.Helper()
	select {
	case ev := <-p.c.Events():
		p.t.Fatalf("unexpected event %s", describe(ev))
	default:
	}
}

func describe(ev Event) string {
	switch ev := ev.(type) {
	case *StateChange:
		return fmt.Sprintf("StateChange{%v err=%v retry=%v jid=%q resumed=%v}", ev.State, ev.Err, ev.Retry, ev.JID, ev.Resumed)
	case *Notified:
		return fmt.Sprintf("Notified{%+v}", *ev.Notification)
	case *Registered:
		return fmt.Sprintf("Registered{%s}", ev.JID)
	}
	return fmt.Sprintf("%T", ev)
}

// check stops the test when the fake server reported a failure.
func check(t *testing.T, srv *xmpptest.Server) {
	t.Helper()
	if srv == nil || srv.Failed() {
		t.FailNow()
	}
}

// online options.
type onlineOpts struct {
	sm   bool   // offer stream management and enable it
	smID string // resumption id the server gives
}

// online accepts the next connection and takes it through SCRAM-SHA-256,
// binding and (with o.sm) stream management to the online state, checking
// the events on the way.
func (p *pair) online(o onlineOpts) *xmpptest.Server {
	p.t.Helper()
	p.state(StateConnecting)
	srv := p.d.Accept()
	check(p.t, srv)
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256"))
	if r := srv.SASL(p.acc); !r.OK {
		p.t.Fatalf("sasl: %+v", r)
	}
	p.bound(srv, o)
	return srv
}

// bound takes srv from SASL success to the online state: the stream
// restart, binding, stream management with o.sm, presence.
func (p *pair) bound(srv *xmpptest.Server, o onlineOpts) {
	p.t.Helper()
	srv.ExpectHeader()
	feats := xmpptest.FeatureBind
	if o.sm {
		feats += xmpptest.FeatureSM
	}
	srv.SendHeader("s2", feats)
	srv.Bind(testUser)
	if o.sm {
		srv.ExpectEnableSM()
	}
	srv.ExpectPresence()
	if o.sm {
		id := o.smID
		if id == "" {
			id = "sm1"
		}
		srv.Sendf(`<enabled xmlns="%s" id="%s" resume="true"/>`, xmpptest.NSSM, id)
	}
	check(p.t, srv)
	if sc := p.state(StateOnline); sc.JID != testFull {
		p.t.Fatalf("online as %q, want %q", sc.JID, testFull)
	}
}
