package xmpp_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/xpush/xpush/internal/faultproxy"
	"github.com/xpush/xpush/internal/testserver"
	"github.com/xpush/xpush/xmpp"
	"github.com/xpush/xpush/xmpp/notification"
	"github.com/xpush/xpush/xmpp/stanza"
)

// The interop tests run the client against real Prosody and ejabberd
// servers on loopback, started by the repository's scripts.

func TestInteropProsody(t *testing.T)  { testInterop(t, testserver.Prosody) }
func TestInteropEjabberd(t *testing.T) { testInterop(t, testserver.Ejabberd) }

// peer is a client under test with its events.
type peer struct {
	t      *testing.T
	c      *xmpp.Client
	events <-chan xmpp.Event
	cancel context.CancelFunc
	done   chan error
}

func startPeer(t *testing.T, cfg xmpp.Config) *peer {
	t.Helper()
	c, err := xmpp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &peer{t: t, c: c, events: c.Events(), cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- c.Run(ctx) }()
	t.Cleanup(p.stop)
	return p
}

func (p *peer) stop() {
	p.cancel()
	for range p.events {
	}
	<-p.done
}

// waitState waits for a state change to st and returns it.
func (p *peer) waitState(st xmpp.State, within time.Duration) *xmpp.StateChange {
	p.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev := <-p.events:
			if sc, ok := ev.(*xmpp.StateChange); ok {
				p.t.Logf("%s: state %v err=%v resumed=%v", p.c.JID(), sc.State, sc.Err, sc.Resumed)
				if sc.State == st {
					return sc
				}
				if sc.Err != nil && !sc.Retry {
					p.t.Fatalf("%s: permanent error: %v", p.c.JID(), sc.Err)
				}
			}
		case <-deadline:
			p.t.Fatalf("%s: not %v within %v", p.c.JID(), st, within)
		}
	}
}

// notifications collects n notifications, failing on a timeout.
func (p *peer) notifications(n int, within time.Duration) []*notification.Notification {
	p.t.Helper()
	var got []*notification.Notification
	deadline := time.After(within)
	for len(got) < n {
		select {
		case ev := <-p.events:
			if nv, ok := ev.(*xmpp.Notified); ok {
				got = append(got, nv.Notification)
			}
		case <-deadline:
			p.t.Fatalf("%s: %d of %d notifications within %v", p.c.JID(), len(got), n, within)
		}
	}
	return got
}

// noMore checks that nothing else arrives for a while.
func (p *peer) noMore(d time.Duration) {
	p.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev := <-p.events:
			if nv, ok := ev.(*xmpp.Notified); ok {
				p.t.Fatalf("%s: unexpected extra notification %+v", p.c.JID(), nv.Notification)
			}
		case <-deadline:
			return
		}
	}
}

func headline(id, to, title, uri string) *stanza.Element {
	n := &notification.Notification{Title: title, Message: "body of " + id, URI: uri}
	m := n.AsMessage(stanza.TypeHeadline, id, "", to)
	m.SetAttr("from", "")
	return m
}

func testInterop(t *testing.T, kind string) {
	srv := testserver.Start(t, kind)
	pem, err := os.ReadFile(srv.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	proxy, err := faultproxy.New(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })

	stamp := time.Now().UnixNano()
	base := xmpp.Config{
		Register:     true,
		BackoffMin:   100 * time.Millisecond,
		BackoffMax:   2 * time.Second,
		Keepalive:    5 * time.Second,
		PingInterval: 10 * time.Second,
		PingTimeout:  5 * time.Second,
	}
	// The receiver goes through the fault proxy, over STARTTLS.
	rcfg := base
	rcfg.JID = fmt.Sprintf("rcv%d@localhost", stamp)
	rcfg.Server = proxy.Addr()
	rcfg.TLS = &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	rcfg.Password = func(context.Context) (string, error) { return "receiver-password-1", nil }
	rcv := startPeer(t, rcfg)
	online := rcv.waitState(xmpp.StateOnline, 20*time.Second)

	scfg := base
	scfg.JID = fmt.Sprintf("snd%d@localhost", stamp)
	scfg.Server = srv.Addr
	scfg.Password = func(context.Context) (string, error) { return "sender-password-1", nil }
	snd := startPeer(t, scfg)
	snd.waitState(xmpp.StateOnline, 20*time.Second)

	send := func(id string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := snd.c.Send(ctx, headline(id, online.JID, "Title "+id, "https://example.org/"+id+".png")); err != nil {
			t.Fatalf("send %s: %v", id, err)
		}
	}

	t.Run("headline with OOB url", func(t *testing.T) {
		send("h1")
		got := rcv.notifications(1, 10*time.Second)[0]
		if got.Title != "Title h1" || got.URI != "https://example.org/h1.png" || got.Kind != notification.KindMessage || got.URIUnsafe {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("dropped connection resumes without loss or duplicates", func(t *testing.T) {
		if n := proxy.DropAll(); n == 0 {
			t.Fatal("no connection to drop")
		}
		ids := []string{"d1", "d2", "d3"}
		for _, id := range ids {
			send(id)
		}
		rcv.waitState(xmpp.StateOffline, 10*time.Second)
		sc := rcv.waitState(xmpp.StateOnline, 10*time.Second)
		if !sc.Resumed {
			t.Errorf("the session was not resumed (XEP-0198)")
		}
		got := rcv.notifications(len(ids), 15*time.Second)
		for i, n := range got {
			if n.StanzaID != ids[i] {
				t.Errorf("notification %d: stanza id %q, want %q", i, n.StanzaID, ids[i])
			}
		}
		rcv.noMore(time.Second)
	})

	t.Run("server restart", func(t *testing.T) {
		srv.Restart()
		// Within the backoff bound (2 s) after the server is back.
		rcv.waitState(xmpp.StateOnline, 15*time.Second)
		snd.waitState(xmpp.StateOnline, 15*time.Second)
		send("r1")
		got := rcv.notifications(1, 10*time.Second)[0]
		if got.StanzaID != "r1" {
			t.Fatalf("got %+v", got)
		}
	})
}
