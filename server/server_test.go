package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xpush/xpush/internal/faultproxy"
	"github.com/xpush/xpush/server"
	"github.com/xpush/xpush/server/api"
	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/xmpp"
	"github.com/xpush/xpush/xmpp/notification"
)

// clock is a settable clock for TTL tests.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// harness is an xpushd on loopback with an in-memory store.
type harness struct {
	t     *testing.T
	srv   *server.Server
	st    *store.Memory
	c2s   string
	http  string
	token string
	clock *clock
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, st: store.NewMemory(), clock: &clock{}}
	srv, err := server.New(server.Options{Domain: "localhost", Store: h.st, Now: h.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.c2s, h.http = cl.Addr().String(), "http://"+hl.Addr().String()
	h.token = "test-token-123"
	sum := sha256.Sum256([]byte(h.token))
	if err := h.st.CreateAPIToken(context.Background(), store.Token{Name: "test", Hash: sum[:], Created: time.Now()}); err != nil {
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
	return h
}

// client is an xpush agent connected to the harness.
type client struct {
	t      *testing.T
	c      *xmpp.Client
	cancel context.CancelFunc
	done   chan struct{}
}

func (h *harness) client(user string, mod ...func(*xmpp.Config)) *client {
	h.t.Helper()
	cfg := xmpp.Config{
		JID:        user + "@localhost",
		Server:     h.c2s,
		Register:   true,
		Password:   func(context.Context) (string, error) { return "password-of-" + user, nil },
		BackoffMin: 50 * time.Millisecond,
		BackoffMax: 500 * time.Millisecond,
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := xmpp.New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cl := &client{t: h.t, c: c, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(cl.done); _ = c.Run(ctx) }()
	h.t.Cleanup(cl.stop)
	return cl
}

func (c *client) stop() {
	c.cancel()
	for range c.c.Events() {
	}
	<-c.done
}

func (c *client) online() {
	c.t.Helper()
	c.wait(func(ev xmpp.Event) bool {
		sc, ok := ev.(*xmpp.StateChange)
		if ok && sc.Err != nil && !sc.Retry {
			c.t.Fatalf("%s: %v", c.c.JID(), sc.Err)
		}
		return ok && sc.State == xmpp.StateOnline
	})
}

func (c *client) wait(f func(xmpp.Event) bool) {
	c.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-c.c.Events():
			if !ok {
				c.t.Fatalf("%s: events closed", c.c.JID())
			}
			if f(ev) {
				return
			}
		case <-timeout:
			c.t.Fatalf("%s: timed out", c.c.JID())
		}
	}
}

// notes waits for n notifications and returns their ids in order.
func (c *client) notes(n int) []string {
	c.t.Helper()
	var ids []string
	c.wait(func(ev xmpp.Event) bool {
		if nv, ok := ev.(*xmpp.Notified); ok {
			ids = append(ids, nv.Notification.ID)
		}
		return len(ids) == n
	})
	return ids
}

// quiet fails if a notification arrives within d.
func (c *client) quiet(d time.Duration) {
	c.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev := <-c.c.Events():
			if nv, ok := ev.(*xmpp.Notified); ok {
				c.t.Fatalf("%s: unexpected notification %+v", c.c.JID(), nv.Notification)
			}
		case <-timeout:
			return
		}
	}
}

// send posts a notification through the HTTP API.
func (h *harness) send(req api.Request) string {
	h.t.Helper()
	body, _ := json.Marshal(req)
	code, resp := h.do("POST", "/api/v1/notifications", body)
	if code != http.StatusAccepted {
		h.t.Fatalf("POST: %d %s", code, resp)
	}
	var out struct{ ID string }
	if err := json.Unmarshal(resp, &out); err != nil || out.ID == "" {
		h.t.Fatalf("POST answer %s: %v", resp, err)
	}
	return out.ID
}

func (h *harness) do(method, path string, body []byte) (int, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.http+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// states polls the API until f accepts the recipients' states.
func (h *harness) states(id string, f func(map[string]string) bool) map[string]string {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, b := h.do("GET", "/api/v1/notifications/"+id, nil)
		if code != http.StatusOK {
			h.t.Fatalf("GET %s: %d %s", id, code, b)
		}
		var st api.Status
		if err := json.Unmarshal(b, &st); err != nil {
			h.t.Fatal(err)
		}
		m := map[string]string{}
		for _, r := range st.Recipients {
			m[r.User] = r.State
		}
		if f(m) {
			return m
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("states of %s: %v", id, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func allIn(state string) func(map[string]string) bool {
	return func(m map[string]string) bool {
		for _, s := range m {
			if s != state {
				return false
			}
		}
		return len(m) > 0
	}
}

func TestRegisterLoginStoresNoPassword(t *testing.T) {
	h := newHarness(t)
	c := h.client("alice")
	c.online()
	u, err := h.st.User(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(u.SHA256.StoredKey) == 0 || len(u.SHA1.StoredKey) == 0 || u.Legacy != "" {
		t.Fatalf("stored user %+v", u)
	}
	for _, b := range [][]byte{u.SHA256.StoredKey, u.SHA256.ServerKey, u.SHA1.StoredKey} {
		if bytes.Contains(b, []byte("password-of-alice")) {
			t.Fatal("password stored in clear")
		}
	}
	// A wrong password is a permanent error, not a registration loop.
	bad := h.client("alice", func(cfg *xmpp.Config) {
		cfg.Password = func(context.Context) (string, error) { return "not-the-password", nil }
	})
	bad.wait(func(ev xmpp.Event) bool {
		sc, ok := ev.(*xmpp.StateChange)
		return ok && sc.Err != nil && !sc.Retry
	})
}

func TestPushToOneListAll(t *testing.T) {
	h := newHarness(t)
	a, b, c := h.client("a"), h.client("b"), h.client("c")
	a.online()
	b.online()
	c.online()

	one := h.send(api.Request{To: []string{"a"}, Title: "one", URI: "https://example.org/cat.png"})
	if got := a.notes(1); got[0] != one {
		t.Fatalf("a got %v", got)
	}
	h.states(one, allIn(store.StateAcked))

	list := h.send(api.Request{To: []string{"a", "b"}, Title: "list"})
	if got := a.notes(1); got[0] != list {
		t.Fatalf("a got %v", got)
	}
	if got := b.notes(1); got[0] != list {
		t.Fatalf("b got %v", got)
	}
	h.states(list, allIn(store.StateAcked))

	all := h.send(api.Request{All: true, Title: "everyone"})
	for _, cl := range []*client{a, b, c} {
		if got := cl.notes(1); got[0] != all {
			t.Fatalf("%s got %v", cl.c.JID(), got)
		}
	}
	st := h.states(all, allIn(store.StateAcked))
	if len(st) != 3 {
		t.Fatalf("broadcast states %v", st)
	}
	c.quiet(200 * time.Millisecond)
}

func TestOfflineStorageDeliveredInOrderOnLogin(t *testing.T) {
	h := newHarness(t)
	a := h.client("late")
	a.online()
	a.stop()
	var ids []string
	for i := range 5 {
		ids = append(ids, h.send(api.Request{To: []string{"late"}, Title: fmt.Sprint("n", i)}))
	}
	for _, id := range ids {
		h.states(id, allIn(store.StateQueued))
	}
	again := h.client("late")
	got := again.notes(5)
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("order: got %v want %v", got, ids)
	}
	for _, id := range ids {
		h.states(id, allIn(store.StateAcked))
	}
}

func TestRedeliveryAfterDropWithoutAck(t *testing.T) {
	h := newHarness(t)
	proxy, err := faultproxy.New(h.c2s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	a := h.client("flaky", func(cfg *xmpp.Config) {
		cfg.Server = proxy.Addr()
		cfg.NoStreamManagement = true // the store, not XEP-0198, must redeliver
	})
	a.online()
	proxy.Stall()
	id := h.send(api.Request{To: []string{"flaky"}, Title: "lost in transit"})
	h.states(id, allIn(store.StateSent))
	proxy.DropAll()
	proxy.Resume()
	if got := a.notes(1); got[0] != id {
		t.Fatalf("got %v", got)
	}
	h.states(id, allIn(store.StateAcked))
	a.quiet(200 * time.Millisecond)
}

func TestTTLExpiry(t *testing.T) {
	h := newHarness(t)
	a := h.client("sleepy")
	a.online()
	a.stop()
	id := h.send(api.Request{To: []string{"sleepy"}, Title: "soon stale", TTL: "1m"})
	h.clock.advance(2 * time.Minute)
	if _, err := h.st.Expire(context.Background(), h.clock.now()); err != nil {
		t.Fatal(err)
	}
	h.states(id, allIn(store.StateExpired))
	b := h.client("sleepy")
	b.online()
	b.quiet(300 * time.Millisecond)
}

// rawSession logs in over the paper's jabber:iq:auth, by hand.
func rawSession(t *testing.T, addr, user, password string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	write := func(s string) {
		if _, err := io.WriteString(conn, s); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(sub string) string {
		t.Helper()
		var got []byte
		buf := make([]byte, 4096)
		for !bytes.Contains(got, []byte(sub)) {
			n, err := r.Read(buf)
			if err != nil {
				t.Fatalf("waiting for %q, got %q: %v", sub, got, err)
			}
			got = append(got, buf[:n]...)
		}
		return string(got)
	}
	write(`<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`)
	feats := expect("</stream:features>")
	for _, f := range []string{"http://jabber.org/features/iq-auth", "http://jabber.org/features/iq-register", "SCRAM-SHA-256"} {
		if !strings.Contains(feats, f) {
			t.Fatalf("features lack %s: %s", f, feats)
		}
	}
	write(`<iq type='set' id='reg1'><query xmlns='jabber:iq:register'><username>` + user + `</username><password>` + password + `</password></query></iq>`)
	expect(`id="reg1"`)
	write(`<iq type='set' id='auth1'><query xmlns='jabber:iq:auth'><username>` + user + `</username><password>` + password + `</password><resource>AndroidpnClient</resource></query></iq>`)
	if got := expect(`id="auth1"`); !strings.Contains(got, `type="result"`) {
		t.Fatalf("iq-auth: %s", got)
	}
	return conn, r
}

func TestLegacyIQAuthLoginAndPush(t *testing.T) {
	h := newHarness(t)
	conn, r := rawSession(t, h.c2s, "paper", "paper-password")
	id := h.send(api.Request{To: []string{"paper"}, Title: "Hello", Message: "from the paper", URI: "https://example.org/"})
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte("</iq>")) {
		n, err := r.Read(buf)
		if err != nil {
			t.Fatalf("read: %v (%q)", err, got)
		}
		got = append(got, buf[:n]...)
	}
	s := string(got)
	if !strings.Contains(s, `xmlns="`+notification.NS+`"`) || !strings.Contains(s, "<id>"+id+"</id>") {
		t.Fatalf("push: %s", s)
	}
	i := strings.Index(s, `id="`)
	sid := s[i+4 : i+4+strings.Index(s[i+4:], `"`)]
	if _, err := io.WriteString(conn, `<iq type='result' id='`+sid+`'/>`); err != nil {
		t.Fatal(err)
	}
	h.states(id, allIn(store.StateAcked))
}

func TestClientCannotPush(t *testing.T) {
	h := newHarness(t)
	victim := h.client("victim")
	victim.online()
	conn, r := rawSession(t, h.c2s, "mallory", "mallory-password")
	_, _ = io.WriteString(conn, `<iq type='set' id='evil1' to='victim@localhost/xpush'><notification xmlns='androidpn:iq:notification'><id>x</id><title>pwned</title></notification></iq>`+
		`<message type='headline' id='evil2' to='victim@localhost'><subject>pwned</subject></message>`)
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte(`id="evil2"`)) {
		n, err := r.Read(buf)
		if err != nil {
			t.Fatalf("read: %v (%q)", err, got)
		}
		got = append(got, buf[:n]...)
	}
	if c := strings.Count(string(got), `type="error"`); c != 2 {
		t.Fatalf("want two errors, got %s", got)
	}
	victim.quiet(300 * time.Millisecond)
}
