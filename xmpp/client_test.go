package xmpp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xpush/xpush/xmpp/internal/xmpptest"
	"github.com/xpush/xpush/xmpp/stanza"
)

func TestNewValidates(t *testing.T) {
	pw := func(context.Context) (string, error) { return "x", nil }
	for _, tc := range []struct {
		cfg     Config
		wantErr string
	}{
		{Config{JID: "example.org", Password: pw}, "has no user name"},
		{Config{JID: "a@b@c", Password: pw}, "bad JID"},
		{Config{JID: "alice@example.org"}, "Password is required"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("New(%q): %v, want %q", tc.cfg.JID, err, tc.wantErr)
		}
	}
	c, err := New(Config{JID: "Alice@Example.org/laptop", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	if c.JID() != "Alice@example.org" && c.JID() != "alice@example.org" {
		t.Errorf("JID() = %q", c.JID())
	}
	if c.cfg.Resource != "laptop" {
		t.Errorf("resource %q, want the JID's", c.cfg.Resource)
	}
	if c.cfg.Keepalive != DefaultKeepalive || c.cfg.Priority != DefaultPriority || cap(c.Events()) != DefaultEventBuffer {
		t.Errorf("defaults not applied: %+v", c.cfg)
	}
	if st, full := c.State(); st != StateOffline || full != "" {
		t.Errorf("State() = %v, %q before Run", st, full)
	}
}

// TestStop: cancelling Run ends it promptly whatever the client is doing,
// and the last event says offline without an error.
func TestStop(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := xmpptest.TLSConfigs(t, testDomain)
	for _, phase := range []string{"dialing", "negotiating", "negotiating over TLS", "online", "backing off", "waiting for Reconnect"} {
		t.Run(phase, func(t *testing.T) {
			t.Parallel()
			p := startPair(t, func(c *Config) {
				c.BackoffMin, c.BackoffMax = time.Hour, time.Hour
				c.TLS = clientTLS
			})
			var srv *xmpptest.Server
			switch phase {
			case "dialing":
				p.state(StateConnecting)
			case "negotiating":
				p.state(StateConnecting)
				srv = p.d.Accept()
				srv.ExpectHeader() // and no answer
			case "negotiating over TLS":
				p.state(StateConnecting)
				srv = p.d.Accept()
				srv.ExpectHeader()
				srv.SendHeader("s1", xmpptest.FeatureStartTLS)
				srv.StartTLS(serverTLS)
				srv.ExpectHeader() // and no answer
			case "online":
				srv = p.online(onlineOpts{})
			case "backing off":
				p.state(StateConnecting)
				p.d.Refuse(errors.New("connection refused"))
				p.offline()
			case "waiting for Reconnect":
				p.acc.Set(testUser, "other")
				p.state(StateConnecting)
				srv = p.d.Accept()
				srv.ExpectHeader()
				srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256"))
				srv.SASL(p.acc)
				p.offline()
			}
			if srv != nil {
				check(t, srv)
			}
			p.cancel()
			var after []Event
			deadline := time.After(waitTimeout)
			for done := false; !done; {
				select {
				case ev, ok := <-p.c.Events():
					if !ok {
						done = true
						break
					}
					after = append(after, ev)
				case <-deadline:
					buf := make([]byte, 1<<20)
					t.Fatalf("Run did not stop\n%s", buf[:runtime.Stack(buf, true)])
				}
			}
			// A client that was offline already says nothing more; one
			// that was not says offline, without an error.
			want := 1
			if phase == "backing off" || phase == "waiting for Reconnect" {
				want = 0
			}
			if len(after) != want {
				t.Errorf("%d events after cancel, want %d", len(after), want)
			}
			for _, ev := range after {
				if sc, ok := ev.(*StateChange); !ok || sc.State != StateOffline || sc.Err != nil {
					t.Errorf("event %s after cancel, want offline without error", describe(ev))
				}
			}
			if phase == "online" {
				srv.ExpectClose()
			}
		})
	}
}

// TestConnectTimeout: a server that stops answering during negotiation
// is given up on after ConnectTimeout, and retried.
func TestConnectTimeout(t *testing.T) {
	t.Parallel()
	p := startPair(t, func(c *Config) { c.ConnectTimeout = 200 * time.Millisecond })
	p.state(StateConnecting)
	srv := p.d.Accept()
	srv.ExpectHeader() // then silence
	srv.ExpectEOF()
	check(t, srv)
	sc := p.offline()
	// Whichever of the connect timeout and the read deadline (the same
	// length here) fires first, it is a timeout.
	if !errors.Is(sc.Err, os.ErrDeadlineExceeded) || !sc.Retry {
		t.Fatalf("offline with %v (retry %v)", sc.Err, sc.Retry)
	}
	p.state(StateConnecting)
	p.d.Accept() // it redials
}

// TestPasswordCallback: the password is asked for on each login, and a
// failing callback is an error that is retried.
func TestPasswordCallback(t *testing.T) {
	t.Parallel()
	calls := make(chan struct{}, 10)
	fail := make(chan bool, 10)
	fail <- true
	p := startPair(t, func(c *Config) {
		c.Password = func(ctx context.Context) (string, error) {
			calls <- struct{}{}
			select {
			case <-fail:
				return "", errors.New("keyring locked")
			default:
				return testPassword, nil
			}
		}
	})
	p.state(StateConnecting)
	srv := p.d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256"))
	srv.ExpectEOF()
	check(t, srv)
	if sc := p.offline(); !strings.Contains(sc.Err.Error(), "keyring locked") || !sc.Retry {
		t.Fatalf("offline with %v (retry %v)", sc.Err, sc.Retry)
	}
	p.online(onlineOpts{})
	if len(calls) != 2 {
		t.Errorf("password asked %d times, want 2", len(calls))
	}

	// An empty password is a permanent ErrAuth, not sent.
	p2 := startPair(t, func(c *Config) {
		c.Password = func(context.Context) (string, error) { return "", nil }
	})
	p2.state(StateConnecting)
	srv = p2.d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256"))
	srv.ExpectEOF()
	check(t, srv)
	if sc := p2.offline(); !errors.Is(sc.Err, ErrAuth) || sc.Retry {
		t.Fatalf("offline with %v (retry %v)", sc.Err, sc.Retry)
	}
}

// TestPushService: with PushService set, a directed presence follows the
// initial one, and the service may send normal messages.
func TestPushService(t *testing.T) {
	t.Parallel()
	const push = "push.example.org"
	p := startPair(t, func(c *Config) { c.PushService = push })
	p.state(StateConnecting)
	srv := p.d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("s1", xmpptest.Mechanisms("SCRAM-SHA-256"))
	srv.SASL(p.acc)
	srv.ExpectHeader()
	srv.SendHeader("s2", xmpptest.FeatureBind)
	srv.Bind(testUser)
	srv.ExpectPresence()
	srv.Expect("directed presence to "+push, func(el *stanza.Element) bool {
		return el.Is(stanza.NSClient, "presence") && el.AttrValue("to") == push && el.AttrValue("type") == ""
	})
	check(t, srv)
	p.state(StateOnline)
	srv.Sendf(`<message from="%s" id="m1"><body>from the service</body></message>`, push)
	if n := p.notified(); n.From != push {
		t.Errorf("notification %+v", *n)
	}
}

// TestLegacyLoginAfterSMSession: a session logged in with jabber:iq:auth
// has no stream management, even when an earlier session had it: the
// client must not count stanzas or send <r/> on it.
func TestLegacyLoginAfterSMSession(t *testing.T) {
	t.Parallel()
	p := startPair(t, nil)
	srv := p.online(onlineOpts{sm: true})
	srv.Close()
	p.offline()

	// The server comes back offering only the legacy login.
	p.state(StateConnecting)
	srv = p.d.Accept()
	srv.ExpectHeader()
	srv.SendHeader("old", xmpptest.FeatureIQAuth)
	get := srv.ExpectIQ(stanza.TypeGet, NSIQAuth, "query")
	srv.Sendf(`<iq type="result" id="%s"><query xmlns="jabber:iq:auth"><username/><digest/><resource/></query></iq>`, get.AttrValue("id"))
	set := srv.ExpectIQ(stanza.TypeSet, NSIQAuth, "query")
	srv.Sendf(`<iq type="result" id="%s"/>`, set.AttrValue("id"))
	srv.ExpectPresence()
	check(t, srv)
	p.state(StateOnline)
	for i := range 20 {
		if err := p.c.Send(context.Background(), chat(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		expectChat(t, srv, fmt.Sprint(i)) // never an <r/> in between
	}
	check(t, srv)
}

// TestSendWhenRunEnds: a Send waiting for a session that Run abandons
// returns ErrNotConnected instead of waiting forever.
func TestSendWhenRunEnds(t *testing.T) {
	t.Parallel()
	p := startPair(t, func(c *Config) { c.EventBuffer = 1 })
	srv := p.online(onlineOpts{})
	// Hold the serve loop up: n1's event fills the channel, n2's waits
	// for room. Once the client has read n4, its reader has handed n3
	// over, so the serve loop has taken n2 and is past its last chance
	// to pick a Send.
	srv.Send(xmpptest.Notification("n1", testFull, "1", "t", "", ""))
	srv.ExpectResult("n1")
	for _, id := range []string{"n2", "n3", "n4"} {
		srv.Send(xmpptest.Notification(id, testFull, id, "t", "", ""))
	}
	check(t, srv)
	errc := make(chan error, 1)
	go func() { errc <- p.c.Send(context.Background(), chat("never sent")) }()
	if err := p.stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrNotConnected) {
			t.Errorf("Send: %v, want ErrNotConnected", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Send still waiting after Run returned")
	}
}
