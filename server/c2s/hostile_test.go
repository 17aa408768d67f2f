package c2s_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xpush/xpush/server"
	"github.com/xpush/xpush/server/account"
	"github.com/xpush/xpush/server/api"
	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/server/store/sqlite"
	"github.com/xpush/xpush/xmpp"
	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

// These tests attack a real xpushd (server.New: the c2s listener, the
// delivery hub and the HTTP API on loopback) and check three things after
// each attack: the attacker got the stream error it deserved and lost its
// connection, a well-behaved client that logged in before still gets
// notifications, and nothing stored was lost.
//
// Attackers come from 127.0.0.1, well-behaved clients from 127.0.0.2 and
// bystanders from 127.0.0.3: Linux routes all of 127.0.0.0/8 to the
// loopback interface, and the login limiter counts failures per IP, so a
// brute force from one address must not lock out the others.
var (
	attackerIP  = net.IPv4(127, 0, 0, 1)
	goodIP      = net.IPv4(127, 0, 0, 2)
	bystanderIP = net.IPv4(127, 0, 0, 3)
)

const (
	xmlDecl = `<?xml version='1.0'?>`
	// streamHeader opens a client stream, as the paper's client does.
	streamHeader = xmlDecl + `<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`
	// patience bounds every wait for the server.
	patience = 10 * time.Second
)

func dialFrom(ip net.IP) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 5 * time.Second}
}

// clock is a settable clock: the login limiter's window passes without
// waiting for it.
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

// logBuffer keeps the server's log, shown when a test fails.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// target is an xpushd served in this process on loopback ports.
type target struct {
	t     *testing.T
	st    store.Store
	srv   *server.Server
	c2s   string
	url   string
	token string
	clock *clock
	web   *http.Client
}

// newTarget starts a server over st (a fresh in-memory store when nil);
// mod may change its options. It is stopped when the test ends.
func newTarget(t *testing.T, st store.Store, mod func(*server.Options)) *target {
	t.Helper()
	if st == nil {
		st = store.NewMemory()
	}
	logs := &logBuffer{}
	tg := &target{
		t: t, st: st, clock: &clock{}, token: "hostile-test-token",
		web: &http.Client{Timeout: patience, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	opts := server.Options{
		Domain: "localhost",
		Store:  st,
		Iters:  account.DefaultIters,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    tg.clock.now,
	}
	if mod != nil {
		mod(&opts)
	}
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	tg.srv = srv
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg.c2s, tg.url = cl.Addr().String(), "http://"+hl.Addr().String()
	sum := sha256.Sum256([]byte(tg.token))
	if err := st.CreateAPIToken(context.Background(), store.Token{Name: "test", Hash: sum[:], Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, server.Listeners{C2S: cl, HTTP: hl}, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("the server did not stop within 15s")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return tg
}

// addUser creates an account directly in the store.
func (tg *target) addUser(name, password string) {
	tg.t.Helper()
	sha1c, sha256c, err := account.Keys(name, password, account.DefaultIters)
	if err != nil {
		tg.t.Fatal(err)
	}
	if err := tg.st.CreateUser(context.Background(), store.User{Name: name, SHA1: sha1c, SHA256: sha256c, Created: time.Now()}); err != nil {
		tg.t.Fatal(err)
	}
}

// do makes an HTTP request with the given bearer token ("" for none).
func (tg *target) do(method, path, token string, body []byte) (*http.Response, []byte) {
	tg.t.Helper()
	req, err := http.NewRequest(method, tg.url+path, bytes.NewReader(body))
	if err != nil {
		tg.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := tg.web.Do(req)
	if err != nil {
		tg.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tg.t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	return resp, b
}

// send pushes a notification to users through the API and returns its id.
func (tg *target) send(title string, to ...string) string {
	tg.t.Helper()
	body, _ := json.Marshal(api.Request{To: to, Title: title, Message: "message of " + title, URI: "https://example.org/" + title})
	resp, b := tg.do(http.MethodPost, "/api/v1/notifications", tg.token, body)
	if resp.StatusCode != http.StatusAccepted {
		tg.t.Fatalf("POST %s: %d %s", body, resp.StatusCode, b)
	}
	var out struct{ ID string }
	if err := json.Unmarshal(b, &out); err != nil || out.ID == "" {
		tg.t.Fatalf("POST answer %s: %v", b, err)
	}
	return out.ID
}

// state returns user's delivery state of notification id, from the API.
func (tg *target) state(id, user string) string {
	tg.t.Helper()
	resp, b := tg.do(http.MethodGet, "/api/v1/notifications/"+id, tg.token, nil)
	if resp.StatusCode != http.StatusOK {
		tg.t.Fatalf("GET %s: %d %s", id, resp.StatusCode, b)
	}
	var st api.Status
	if err := json.Unmarshal(b, &st); err != nil {
		tg.t.Fatal(err)
	}
	for _, r := range st.Recipients {
		if r.User == user {
			return r.State
		}
	}
	tg.t.Fatalf("notification %s has no recipient %s: %s", id, user, b)
	return ""
}

// waitState polls the API until user's state of id is want.
func (tg *target) waitState(id, user, want string) {
	tg.t.Helper()
	deadline := time.Now().Add(patience)
	for {
		got := tg.state(id, user)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			tg.t.Fatalf("notification %s for %s: state %s, want %s", id, user, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// healthy checks that the HTTP side still answers.
func (tg *target) healthy() {
	tg.t.Helper()
	resp, b := tg.do(http.MethodGet, "/healthz", "", nil)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != "ok" {
		tg.t.Fatalf("/healthz: %d %q", resp.StatusCode, b)
	}
}

// waitSessions waits until the listener holds n bound sessions.
func (tg *target) waitSessions(n int) {
	tg.t.Helper()
	deadline := time.Now().Add(patience)
	for tg.srv.C2S.Sessions() != n {
		if time.Now().After(deadline) {
			tg.t.Fatalf("%d sessions bound, want %d", tg.srv.C2S.Sessions(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// agent is a well-behaved client: package xmpp's, from 127.0.0.2.
type agent struct {
	t      *testing.T
	c      *xmpp.Client
	cancel context.CancelFunc
	done   chan struct{}
}

func (tg *target) agent(user, password string, register bool) *agent {
	tg.t.Helper()
	c, err := xmpp.New(xmpp.Config{
		JID:        user + "@localhost",
		Server:     tg.c2s,
		Register:   register,
		Password:   func(context.Context) (string, error) { return password, nil },
		Dial:       dialFrom(goodIP).DialContext,
		BackoffMin: 50 * time.Millisecond,
		BackoffMax: 500 * time.Millisecond,
	})
	if err != nil {
		tg.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &agent{t: tg.t, c: c, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(a.done); _ = c.Run(ctx) }()
	tg.t.Cleanup(a.stop)
	return a
}

func (a *agent) stop() {
	a.cancel()
	for range a.c.Events() {
	}
	<-a.done
}

// wait reads events until f accepts one.
func (a *agent) wait(what string, f func(xmpp.Event) bool) {
	a.t.Helper()
	timeout := time.After(patience)
	for {
		select {
		case ev, ok := <-a.c.Events():
			if !ok {
				a.t.Fatalf("%s: events closed while waiting for %s", a.c.JID(), what)
			}
			if sc, ok := ev.(*xmpp.StateChange); ok && sc.Err != nil && !sc.Retry {
				a.t.Fatalf("%s: %v (waiting for %s)", a.c.JID(), sc.Err, what)
			}
			if f(ev) {
				return
			}
		case <-timeout:
			a.t.Fatalf("%s: no %s within %v", a.c.JID(), what, patience)
		}
	}
}

func (a *agent) online() {
	a.t.Helper()
	a.wait("online state", func(ev xmpp.Event) bool {
		sc, ok := ev.(*xmpp.StateChange)
		return ok && sc.State == xmpp.StateOnline
	})
}

// next waits for notification id; any other notification fails the test.
func (a *agent) next(id string) {
	a.t.Helper()
	a.wait("notification "+id, func(ev xmpp.Event) bool {
		n, ok := ev.(*xmpp.Notified)
		if ok && n.Notification.ID != id {
			a.t.Fatalf("%s: got notification %s, want %s", a.c.JID(), n.Notification.ID, id)
		}
		return ok
	})
}

// witnesses are what an attack must not disturb: a client online before
// it, a notification it acknowledged and one queued for an offline user.
type witnesses struct {
	tg     *target
	good   *agent
	acked  string
	queued string
}

func (tg *target) witnesses() *witnesses {
	tg.t.Helper()
	w := &witnesses{tg: tg, good: tg.agent("good", "good-password", true)}
	w.good.online()
	w.acked = tg.send("before", "good")
	w.good.next(w.acked)
	tg.waitState(w.acked, "good", store.StateAcked)
	tg.addUser("absent", "absent-password")
	w.queued = tg.send("waiting", "absent")
	if got := tg.state(w.queued, "absent"); got != store.StateQueued {
		tg.t.Fatalf("notification for an offline user: %s", got)
	}
	return w
}

// check verifies that the server keeps serving the well-behaved client and
// that the stored notifications are intact.
func (w *witnesses) check() {
	w.tg.t.Helper()
	id := w.tg.send("after", "good")
	w.good.next(id)
	w.tg.waitState(id, "good", store.StateAcked)
	if got := w.tg.state(w.acked, "good"); got != store.StateAcked {
		w.tg.t.Errorf("acknowledged notification is now %s", got)
	}
	if got := w.tg.state(w.queued, "absent"); got != store.StateQueued {
		w.tg.t.Errorf("queued notification is now %s", got)
	}
	w.tg.healthy()
}

// rawConn is the attacker's connection: bytes in, bytes out. A goroutine
// reads everything the server writes until it closes the connection.
type rawConn struct {
	t       *testing.T
	conn    net.Conn
	mu      sync.Mutex
	out     []byte
	rerr    error
	ended   time.Time // when the read failed
	changed chan struct{}
	closed  chan struct{}
}

func (tg *target) raw(from net.IP) *rawConn {
	tg.t.Helper()
	conn, err := dialFrom(from).Dial("tcp", tg.c2s)
	if err != nil {
		tg.t.Fatal(err)
	}
	// Bounds the reader and every write.
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	r := &rawConn{t: tg.t, conn: conn, changed: make(chan struct{}, 1), closed: make(chan struct{})}
	go r.read()
	tg.t.Cleanup(func() { conn.Close(); <-r.closed })
	return r
}

func (r *rawConn) read() {
	defer close(r.closed)
	buf := make([]byte, 4096)
	for {
		n, err := r.conn.Read(buf)
		r.mu.Lock()
		r.out = append(r.out, buf[:n]...)
		r.rerr = err
		if err != nil {
			r.ended = time.Now()
		}
		r.mu.Unlock()
		select {
		case r.changed <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

func (r *rawConn) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.out)
}

// write sends s; the server may well close the connection before it has
// read it all, so errors are only returned.
func (r *rawConn) write(s string) error {
	_, err := io.WriteString(r.conn, s)
	return err
}

// waitFor waits until the server has written sub.
func (r *rawConn) waitFor(sub string) {
	r.t.Helper()
	timeout := time.After(patience)
	for {
		r.mu.Lock()
		out, err := string(r.out), r.rerr
		r.mu.Unlock()
		if strings.Contains(out, sub) {
			return
		}
		if err != nil {
			r.t.Fatalf("waiting for %q: the connection ended (%v) after %q", sub, err, out)
		}
		select {
		case <-r.changed:
		case <-timeout:
			r.t.Fatalf("waiting for %q: got %q", sub, out)
		}
	}
}

// waitClosed waits until the server has closed the connection and
// returns all it wrote. A reset counts as closed; a timeout does not.
func (r *rawConn) waitClosed(within time.Duration) []byte {
	r.t.Helper()
	select {
	case <-r.closed:
	case <-time.After(within):
		r.t.Fatalf("the server did not close the connection within %v; it wrote %q", within, r.output())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var ne net.Error
	if errors.As(r.rerr, &ne) && ne.Timeout() {
		r.t.Fatalf("the server did not close the connection: %v; it wrote %q", r.rerr, r.out)
	}
	return r.out
}

// login registers user in-band and logs in with the paper's jabber:iq:auth.
func (r *rawConn) login(user, password string) {
	r.t.Helper()
	_ = r.write(streamHeader)
	r.waitFor("</stream:features>")
	_ = r.write(`<iq type='set' id='reg1'><query xmlns='jabber:iq:register'><username>` + user + `</username><password>` + password + `</password></query></iq>`)
	r.waitFor(`id="reg1"`)
	_ = r.write(`<iq type='set' id='auth1'><query xmlns='jabber:iq:auth'><username>` + user + `</username><password>` + password + `</password><resource>AndroidpnClient</resource></query></iq>`)
	r.waitFor(`id="auth1"`)
	if out := r.output(); !strings.Contains(out, `type="result" id="auth1"`) && !strings.Contains(out, `id="auth1" type="result"`) {
		r.t.Fatalf("iq:auth login failed: %s", out)
	}
}

// streamError parses what the server wrote as a stream and returns the
// stream error in it, and whether </stream:stream> followed it.
func streamError(out []byte) (stream.Error, bool, bool) {
	d := stream.NewDecoder(bytes.NewReader(out), stream.Limits{})
	if _, err := d.ReadHeader(); err != nil {
		return stream.Error{}, false, false
	}
	for {
		el, err := d.Next()
		if err != nil {
			return stream.Error{}, false, false
		}
		if el.Is(stanza.NSStream, "error") {
			_, err := d.Next()
			return stream.ParseError(el), true, errors.Is(err, stream.ErrClosed)
		}
	}
}

// billionLaughs is the classic entity-expansion bomb: ten levels of ten
// references, a billion "lol"s once expanded.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE lolz [<!ENTITY lol "lol">`)
	prev := "lol"
	for i := 1; i <= 9; i++ {
		name := "lol" + strconv.Itoa(i)
		fmt.Fprintf(&b, `<!ENTITY %s "%s">`, name, strings.Repeat("&"+prev+";", 10))
		prev = name
	}
	b.WriteString(`]>`)
	return b.String()
}

// TestHostileInput sends broken, hostile and oversized XML to the c2s
// listener, before and after logging in.
func TestHostileInput(t *testing.T) {
	bomb := billionLaughs()
	big := strings.Repeat("A", 300<<10) // more than stream.DefaultMaxStanza (256 KiB)
	cases := []struct {
		name string
		// bound: the attacker logs in first and has a notification
		// pushed to it that it does not acknowledge.
		bound bool
		// raw: in is the whole input (no stream header of ours first).
		raw bool
		in  string
		// half: close our side after in (EOF in the middle of a stanza).
		half bool
		// want is the stream error; zero: none, the connection just ends.
		want stream.Error
	}{
		{name: "malformed XML", in: `<iq type='get' id='m1'><query xmlns='jabber:iq:roster'></iq>`, want: stream.NotWellFormed},
		{name: "malformed XML after login", bound: true, in: `<message to='good@localhost'><body>hi</message></body>`, want: stream.NotWellFormed},
		{name: "control character", in: "<message><body>\x01</body></message>", want: stream.NotWellFormed},
		{name: "text between stanzas", in: `hello there<presence/>`, want: stream.NotWellFormed},
		{name: "billion laughs before the stream header", raw: true, in: xmlDecl + bomb + streamHeader[len(xmlDecl):] + `<message><body>&lol9;</body></message>`, want: stream.RestrictedXML},
		{name: "billion laughs inside the stream", in: bomb + `<message><body>&lol9;</body></message>`, want: stream.RestrictedXML},
		{name: "billion laughs after login", bound: true, in: bomb + `<message to='good@localhost'><body>&lol9;</body></message>`, want: stream.RestrictedXML},
		{name: "undeclared entity after login", bound: true, in: `<message to='good@localhost'><body>&lol9;</body></message>`, want: stream.RestrictedXML},
		{name: "oversized stanza", in: `<iq type='set' id='big'><query xmlns='jabber:iq:register'><username>` + big + `</username></query></iq>`, want: stream.PolicyViolation},
		{name: "oversized stanza after login", bound: true, in: `<message to='good@localhost'><body>` + big + `</body></message>`, want: stream.PolicyViolation},
		{name: "oversized stream header", raw: true, in: `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' x='` + big + `'>`, want: stream.PolicyViolation},
		{name: "deep nesting", in: strings.Repeat("<a>", 10000), want: stream.PolicyViolation},
		{name: "unclosed stream", in: `<iq type='set' id='e1'><query xmlns='jabber:iq:auth'><username>ev`, half: true},
		{name: "unclosed stream after login", bound: true, in: `<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'`, half: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tg := newTarget(t, nil, nil)
			w := tg.witnesses()
			atk := tg.raw(attackerIP)
			var pending string
			switch {
			case tc.bound:
				atk.login("mallory", "mallory-password")
				tg.waitSessions(2)
				pending = tg.send("unacked", "mallory")
				atk.waitFor("androidpn:iq:notification")
				tg.waitState(pending, "mallory", store.StateSent)
			case !tc.raw:
				_ = atk.write(streamHeader)
				atk.waitFor("</stream:features>")
			}
			start := time.Now()
			_ = atk.write(tc.in)
			if tc.half {
				if err := atk.conn.(*net.TCPConn).CloseWrite(); err != nil {
					t.Fatal(err)
				}
			}
			out := atk.waitClosed(patience)
			took := time.Since(start)
			se, found, closed := streamError(out)
			switch {
			case tc.want == (stream.Error{}) && found:
				t.Errorf("stream error %v, want none", se)
			case tc.want != (stream.Error{}) && !found:
				t.Errorf("no stream error, want %s; the server wrote %.2000q", tc.want.Condition, out)
			case tc.want != (stream.Error{}) && !errors.Is(se, tc.want):
				t.Errorf("stream error %v, want %s", se, tc.want.Condition)
			case found && !closed:
				t.Errorf("no </stream:stream> after the stream error: %.2000q", out)
			}
			if found {
				t.Logf("closed after %v with %v", took.Round(time.Millisecond), se)
			} else {
				t.Logf("closed after %v without a stream error", took.Round(time.Millisecond))
			}
			// The attacker's session is gone, and what it left unacked is
			// queued again for its next login.
			tg.waitSessions(1)
			if tc.bound {
				tg.waitState(pending, "mallory", store.StateQueued)
			}
			w.check()
		})
	}
}

// TestSlowloris drips stream headers one byte a second on many connections:
// the negotiation deadline (AuthTimeout, from accept to bound) cuts every
// one off with connection-timeout, although each byte came well within the
// per-read deadline (OpenTimeout), which cuts off a connection that sends
// nothing; meanwhile the server keeps pushing to a client that is online.
func TestSlowloris(t *testing.T) {
	const (
		openTimeout = 2 * time.Second
		authTimeout = 3 * time.Second
		drips       = 20
	)
	tg := newTarget(t, nil, func(o *server.Options) {
		o.OpenTimeout = openTimeout
		o.AuthTimeout = authTimeout
	})
	w := tg.witnesses()
	type result struct {
		out  []byte
		took time.Duration
		err  error
	}
	results := make(chan result, drips)
	var conns []*rawConn
	for range drips {
		conns = append(conns, tg.raw(attackerIP))
	}
	silent := tg.raw(attackerIP)
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			// At most len(streamHeader) bytes, one a second, until
			// the server hangs up.
		drip:
			for i := 0; i < len(streamHeader); i++ {
				if err := c.write(streamHeader[i : i+1]); err != nil {
					break
				}
				select {
				case <-c.closed:
					break drip
				case <-tick.C:
				}
			}
			select {
			case <-c.closed:
			case <-time.After(patience):
				results <- result{err: errors.New("not closed")}
				return
			}
			c.mu.Lock()
			results <- result{out: c.out, took: time.Since(start), err: c.rerr}
			c.mu.Unlock()
		}()
	}
	// While the attack goes on, a notification still arrives.
	id := tg.send("during", "good")
	w.good.next(id)
	wg.Wait()
	close(results)
	for r := range results {
		var ne net.Error
		if r.err == nil || errors.As(r.err, &ne) && ne.Timeout() {
			t.Errorf("a dripping connection was not closed: %v", r.err)
			continue
		}
		se, found, _ := streamError(r.out)
		if !found || !errors.Is(se, stream.ConnectionTimeout) {
			t.Errorf("stream error %v (found %v), want connection-timeout; the server wrote %q", se, found, r.out)
		}
		if r.took < authTimeout-200*time.Millisecond || r.took > authTimeout+3*time.Second {
			t.Errorf("cut off after %v, want about %v", r.took, authTimeout)
		}
	}
	out := silent.waitClosed(patience)
	silent.mu.Lock()
	took := silent.ended.Sub(start)
	silent.mu.Unlock()
	if se, found, _ := streamError(out); !found || !errors.Is(se, stream.ConnectionTimeout) {
		t.Errorf("silent connection: stream error %v (found %v), want connection-timeout; the server wrote %q", se, found, out)
	}
	if took > openTimeout+time.Second {
		t.Errorf("silent connection cut off after %v, want about %v", took, openTimeout)
	}
	t.Logf("silent connection cut off after %v; %d dripping ones after %v", took.Round(time.Millisecond), drips, time.Since(start).Round(time.Millisecond))
	w.check()
}

// saslConn speaks just enough XMPP to try SASL logins, and reports errors
// instead of failing the test, so that it can run in other goroutines.
type saslConn struct {
	conn net.Conn
	dec  *stream.Decoder
}

func dialSASL(addr string, from net.IP) (*saslConn, error) {
	conn, err := dialFrom(from).Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	c := &saslConn{conn: conn, dec: stream.NewDecoder(conn, stream.Limits{})}
	if _, err := io.WriteString(conn, streamHeader); err != nil {
		conn.Close()
		return nil, err
	}
	if _, err := c.dec.ReadHeader(); err != nil {
		conn.Close()
		return nil, err
	}
	if el, err := c.dec.Next(); err != nil || !el.Is(stanza.NSStream, "features") {
		conn.Close()
		return nil, fmt.Errorf("expected features: %v %v", el, err)
	}
	return c, nil
}

// try sends one <auth/> and returns "success", "challenge" or the
// failure's condition.
func (c *saslConn) try(mech string, msg []byte) (string, error) {
	auth := `<auth xmlns='` + stanza.NSSASL + `' mechanism='` + mech + `'>` + base64.StdEncoding.EncodeToString(msg) + `</auth>`
	if _, err := io.WriteString(c.conn, auth); err != nil {
		return "", err
	}
	el, err := c.dec.Next()
	if err != nil {
		return "", err
	}
	switch {
	case el.Is(stanza.NSSASL, "success"), el.Is(stanza.NSSASL, "challenge"):
		return el.Name.Local, nil
	case el.Is(stanza.NSSASL, "failure") && el.First() != nil:
		return el.First().Name.Local, nil
	}
	return "", fmt.Errorf("unexpected answer %v", el)
}

func plain(user, password string) []byte { return []byte("\x00" + user + "\x00" + password) }

// scramFirst is a SCRAM client-first message without channel binding.
func scramFirst(user string) []byte { return []byte("n,,n=" + user + ",r=hostile-test-nonce") }

// TestPasswordGuessing tries 1,000 wrong passwords for one account over
// several concurrent connections from 127.0.0.1.
//
// The listener counts login failures per IP and per account in a sliding
// minute and, from the fifth, answers temporary-auth-failure without
// checking the password. Loopback is deliberately not exempt (unlike the
// registration limit): exempting it would let any local process, or every
// client behind a local TLS or TCP proxy, guess without limit. So the
// guesses lock out 127.0.0.1 and the attacked account for a minute, while
// another account from another address logs in as usual.
func TestPasswordGuessing(t *testing.T) {
	const (
		conns    = 10
		attempts = 1000
	)
	tg := newTarget(t, nil, nil)
	w := tg.witnesses()
	tg.addUser("victim", "the-victims-password")
	tg.addUser("other", "the-others-password")

	type tally struct {
		counts map[string]int
		err    error
	}
	tallies := make(chan tally, conns)
	for i := range conns {
		go func() {
			tl := tally{counts: map[string]int{}}
			defer func() { tallies <- tl }()
			c, err := dialSASL(tg.c2s, attackerIP)
			if err != nil {
				tl.err = err
				return
			}
			defer c.conn.Close()
			for j := range attempts / conns {
				cond, err := c.try("PLAIN", plain("victim", fmt.Sprintf("guess-%d-%d", i, j)))
				if err != nil {
					tl.err = err
					return
				}
				tl.counts[cond]++
			}
		}()
	}
	total := map[string]int{}
	for range conns {
		tl := <-tallies
		if tl.err != nil {
			t.Errorf("attacker: %v", tl.err)
		}
		for k, v := range tl.counts {
			total[k] += v
		}
	}
	t.Logf("answers to %d wrong passwords: %v", attempts, total)
	// Up to conns-1 guesses may be past the check when the fifth failure
	// is counted; every other one is refused unchecked.
	if n := total["not-authorized"]; n < 5 || n > 5+conns-1 {
		t.Errorf("%d guesses checked (not-authorized), want 5 to %d", n, 5+conns-1)
	}
	if total["success"] != 0 || total["not-authorized"]+total["temporary-auth-failure"] != attempts {
		t.Errorf("answers %v: want only not-authorized and temporary-auth-failure, %d in all", total, attempts)
	}

	login := func(from net.IP, mech string, msg []byte) string {
		t.Helper()
		c, err := dialSASL(tg.c2s, from)
		if err != nil {
			t.Fatal(err)
		}
		defer c.conn.Close()
		cond, err := c.try(mech, msg)
		if err != nil {
			t.Fatal(err)
		}
		return cond
	}
	for _, tc := range []struct {
		name, mech string
		from       net.IP
		msg        []byte
		want       string
	}{
		{"the attacker, SCRAM", "SCRAM-SHA-256", attackerIP, scramFirst("victim"), "temporary-auth-failure"},
		{"another account from the attacker's address", "PLAIN", attackerIP, plain("other", "the-others-password"), "temporary-auth-failure"},
		{"the victim's right password from elsewhere", "PLAIN", bystanderIP, plain("victim", "the-victims-password"), "temporary-auth-failure"},
		{"the victim over SCRAM from elsewhere", "SCRAM-SHA-1", bystanderIP, scramFirst("victim"), "temporary-auth-failure"},
		{"another account from elsewhere", "PLAIN", goodIP, plain("other", "the-others-password"), "success"},
	} {
		if got := login(tc.from, tc.mech, tc.msg); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	// A real client for the other account, from 127.0.0.2, gets online
	// and gets its notifications.
	other := tg.agent("other", "the-others-password", false)
	other.online()
	id := tg.send("for-other", "other")
	other.next(id)
	tg.waitState(id, "other", store.StateAcked)

	resp, b := tg.do(http.MethodGet, "/metrics", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "xpushd_auth_failures_total ") {
		t.Errorf("/metrics: %d, no xpushd_auth_failures_total", resp.StatusCode)
	}
	w.check()

	// The lockout ends with its window: the victim logs in again, from
	// anywhere.
	tg.clock.advance(time.Minute + time.Second)
	if got := login(attackerIP, "PLAIN", plain("victim", "the-victims-password")); got != "success" {
		t.Errorf("after the window, the victim's password: %s, want success", got)
	}
}

// TestSQLMetacharactersInUsernames registers and logs in with names full
// of SQL metacharacters against the SQLite store: each is either a valid
// PRECIS localpart that works like any other, or refused cleanly.
func TestSQLMetacharactersInUsernames(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "xpushd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tg := newTarget(t, st, nil)
	w := tg.witnesses()
	escape := func(s string) string {
		var b []byte
		return string(stanza.AppendEscaped(b, s, true))
	}
	for _, tc := range []struct {
		name string
		ok   bool // a valid localpart: registered and usable
	}{
		{`o'brien`, false}, // RFC 7622 forbids ' " & / : < > @ in localparts
		{`a%b`, true},
		{`"; DROP TABLE users; --`, false},
		{`x' OR '1'='1`, false},
		{`a_b%`, true},
		{`robert);drop`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			atk := tg.raw(goodIP)
			_ = atk.write(streamHeader)
			atk.waitFor("</stream:features>")
			_ = atk.write(`<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>` + escape(tc.name) +
				`</username><password>a-fine-password</password></query></iq>`)
			atk.waitFor(`id="reg"`)
			out := atk.output()
			switch {
			case tc.ok && !strings.Contains(out, `type="result"`):
				t.Fatalf("registration refused: %s", out)
			case !tc.ok && !strings.Contains(out, "not-acceptable"):
				t.Fatalf("registration not refused with not-acceptable: %s", out)
			}
			// The paper's login, then SASL PLAIN and SCRAM.
			_ = atk.write(`<iq type='set' id='auth'><query xmlns='jabber:iq:auth'><username>` + escape(tc.name) +
				`</username><password>a-fine-password</password><resource>r</resource></query></iq>`)
			atk.waitFor(`id="auth"`)
			if got := strings.Contains(atk.output()[len(out):], `type="result"`); got != tc.ok {
				t.Errorf("iq:auth login succeeded: %v, want %v: %s", got, tc.ok, atk.output()[len(out):])
			}
			if tc.ok {
				a := tg.agent(tc.name, "a-fine-password", false)
				a.online()
				id := tg.send("hello", tc.name)
				a.next(id)
				tg.waitState(id, tc.name, store.StateAcked)
				a.stop()
			} else {
				body, _ := json.Marshal(api.Request{To: []string{tc.name}, Title: "t"})
				resp, b := tg.do(http.MethodPost, "/api/v1/notifications", tg.token, body)
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "not a valid user name") {
					t.Errorf("API send to %q: %d %s", tc.name, resp.StatusCode, b)
				}
			}
		})
	}
	// The users table is whole: good, absent and the three valid names.
	if n, err := st.CountUsers(context.Background()); err != nil || n != 5 {
		t.Errorf("CountUsers = %d, %v; want 5", n, err)
	}
	// LIKE wildcards match themselves when searching.
	us, err := st.ListUsers(context.Background(), store.Page{Query: "%"})
	if err != nil || len(us) != 2 {
		t.Errorf("users matching %%: %v, %v; want a%%b and a_b%%", us, err)
	}
	w.check()
}

// TestHostileAPIRequests sends bad requests to the HTTP API: each gets
// its status and a JSON error that says what is wrong, nothing is stored,
// and the server still answers.
func TestHostileAPIRequests(t *testing.T) {
	tg := newTarget(t, nil, nil)
	w := tg.witnesses()
	before, err := tg.st.History(context.Background(), store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	big := `{"to":["good"],"title":"` + strings.Repeat("A", 300<<10) + `"}`
	for _, tc := range []struct {
		name, token, body string
		code              int
		says              string // in the error message
	}{
		{"oversized body", tg.token, big, http.StatusRequestEntityTooLarge, "larger than"},
		{"bad JSON", tg.token, `{"to":["good"],"title":`, http.StatusBadRequest, "bad JSON"},
		{"not an object", tg.token, `["good"]`, http.StatusBadRequest, "bad JSON"},
		{"trailing data", tg.token, `{"to":["good"],"title":"t"} {}`, http.StatusBadRequest, "after the object"},
		{"unknown field", tg.token, `{"to":["good"],"title":"t","colour":"red"}`, http.StatusBadRequest, "colour"},
		{"empty body", tg.token, ``, http.StatusBadRequest, "empty body"},
		{"missing token", "", `{"to":["good"],"title":"t"}`, http.StatusUnauthorized, "missing API token"},
		{"wrong token", tg.token + "x", `{"to":["good"],"title":"t"}`, http.StatusUnauthorized, "invalid or revoked API token"},
		{"unknown recipient", tg.token, `{"to":["good","nobody"],"title":"t"}`, http.StatusBadRequest, "no such user: nobody"},
		{"javascript: URI", tg.token, `{"to":["good"],"title":"t","uri":"javascript:alert(document.cookie)"}`, http.StatusBadRequest, "uri"},
		{"JavaScript: URI in capitals", tg.token, `{"to":["good"],"title":"t","uri":"JavaScript:alert(1)"}`, http.StatusBadRequest, "uri"},
		{"no recipients", tg.token, `{"title":"t"}`, http.StatusBadRequest, "no recipients"},
		{"bad ttl", tg.token, `{"to":["good"],"title":"t","ttl":"forever"}`, http.StatusBadRequest, "ttl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := tg.do(http.MethodPost, "/api/v1/notifications", tc.token, []byte(tc.body))
			var e struct{ Error string }
			if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
				t.Fatalf("%d, not a JSON error: %q (%v)", resp.StatusCode, b, err)
			}
			t.Logf("%d %s", resp.StatusCode, e.Error)
			if resp.StatusCode != tc.code || !strings.Contains(e.Error, tc.says) {
				t.Errorf("%d %q; want %d and a message with %q", resp.StatusCode, e.Error, tc.code, tc.says)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tc.code == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" && tc.token == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	after, err := tg.st.History(context.Background(), store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("bad requests stored %d notifications", len(after)-len(before))
	}
	w.check()
}
