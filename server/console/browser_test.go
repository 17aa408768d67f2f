package console_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/xpush/xpush/internal/testserver"
	"github.com/xpush/xpush/server"
	"github.com/xpush/xpush/server/account"
	"github.com/xpush/xpush/server/console"
	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/xmpp"
	"github.com/xpush/xpush/xmpp/notification"
)

var screenshots = flag.Bool("screenshots", false,
	"write the browser test's screenshots to docs/screenshots (also XPUSH_SCREENSHOTS=1)")

// Browser test settings.
const (
	chromiumPath = "/usr/bin/chromium" // Debian's package
	// browserTimeout bounds the whole browser test: Chromium starts
	// slowly on two cores, and the race detector slows the server.
	browserTimeout = 90 * time.Second
	// stepTimeout bounds one wait for the page, so that a failure names
	// the step instead of the overall deadline.
	stepTimeout = 20 * time.Second
	// screenshotDir is where the README's screenshots live, from this
	// package's directory.
	screenshotDir = "../../docs/screenshots"
	// testImage is the notification's link. The browser never reaches
	// the network for it: the test answers it with a generated picture.
	testImage       = "https://example.org/cat.png"
	browserPassword = "a long admin password"
)

// TestBrowser drives the console in Debian's headless Chromium against an
// in-process xpushd with real XMPP clients: log in, send to a connected
// client and watch its state turn acked, follow a live update, browse the
// history and the users, and check that forged requests are refused.
func TestBrowser(t *testing.T) {
	exe := findChromium(t)
	srv := startServer(t)
	alice := srv.agent(t, "alice", "laptop")
	alice.waitOnline(t)
	// bob has an account but has never connected when the second
	// notification is sent.
	srv.addUser(t, "bob")

	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	b := newBrowser(ctx, t, exe)
	shots := *screenshots || os.Getenv("XPUSH_SCREENSHOTS") == "1"
	shot := func(name string) {
		t.Helper()
		if shots {
			b.screenshot(name)
		}
	}

	// Log in: a wrong password first, then the right one.
	b.do("open the login page", chromedp.Navigate(srv.base+"/"))
	b.do("see the login form", chromedp.WaitVisible(chromedp.CSS(`input[name="password"]`)))
	if loc := b.location(); !strings.HasPrefix(loc, srv.base+"/login") {
		t.Fatalf("not logged in, / went to %s; want /login", loc)
	}
	shot("console-login.png")
	b.do("enter a wrong password",
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "not the password"),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.error`)),
	)
	if msg := b.text(`p.error`); msg != "Wrong password." {
		t.Errorf("error after a wrong password: %q", msg)
	}
	b.do("enter the right password",
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), browserPassword),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`textarea[name="message"]`)),
	)
	if loc := b.location(); loc != srv.base+"/" {
		t.Errorf("after login at %s, want the send page", loc)
	}
	if h := b.text(`h1`); h != "Send a notification" {
		t.Errorf("send page heading %q", h)
	}

	// Send to alice, who is online, with a picture link.
	const title, message = "Cat picture of the day", "Look at this one.\nIt sat still for once."
	b.do("fill the send form",
		chromedp.SendKeys(chromedp.CSS(`input[name="to"]`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`input[name="title"]`), title),
		chromedp.SendKeys(chromedp.CSS(`textarea[name="message"]`), message),
		chromedp.SendKeys(chromedp.ID("uri"), testImage),
		chromedp.WaitVisible(chromedp.ID("preview-img")),
	)
	if src := b.attr(`#preview-img`, "src"); src != testImage {
		t.Errorf("preview src %q, want %q", src, testImage)
	}
	// The content security policy lets the picture load.
	b.do("load the preview", chromedp.Poll[chromedp.Void](
		`document.getElementById("preview-img").complete && document.getElementById("preview-img").naturalWidth > 0`,
		chromedp.WithPollingTimeout(stepTimeout)),
		chromedp.Blur(chromedp.ID("uri")))
	shot("console-send.png")
	b.do("send",
		chromedp.Click(chromedp.CSS(`button[value="send"]`)),
		chromedp.WaitVisible(chromedp.ID("recipients")),
	)
	loc := b.location()
	id, ok := strings.CutPrefix(strings.TrimSuffix(loc, "?done=sent"), srv.base+"/notifications/")
	if !ok || id == "" || strings.Contains(id, "/") {
		t.Fatalf("after sending at %s, want /notifications/ID?done=sent", loc)
	}
	if f := b.text(`p.flash`); !strings.HasPrefix(f, "Sent.") {
		t.Errorf("flash %q", f)
	}
	if h := b.text(`h1`); h != title {
		t.Errorf("notification heading %q, want %q", h, title)
	}
	// Delivery may be done before the page is; either way the page shows
	// acked within a bounded wait (the page polls while it is not).
	b.do("see alice's delivery acked",
		chromedp.WaitVisible(chromedp.CSS(`#recipients tr[data-user="alice"] span.badge.acked`)))
	n := alice.note(t)
	if n.ID != id || n.Title != title || n.Message != message || n.URI != testImage || n.Kind != "iq" {
		t.Errorf("alice got %+v; want id %s, title %q, uri %q over an iq", n, id, title, testImage)
	}
	if got := srv.states(t, id); got["alice"] != store.StateAcked {
		t.Errorf("stored states %v", got)
	}
	if c := b.text(`#counts`); !strings.Contains(c, "1 acked") {
		t.Errorf("counts %q", c)
	}
	if b.count(`#recipients img`) != 0 || b.count(`img.thumb`) != 1 {
		t.Error("the notification page does not show the picture once")
	}
	shot("console-notification.png")

	// Live update: send to bob while he is offline; the open page follows
	// his delivery from queued to acked without a reload.
	b.do("open the send page", chromedp.Navigate(srv.base+"/?to=bob"),
		chromedp.WaitVisible(chromedp.CSS(`textarea[name="message"]`)))
	if v := b.value(`input[name="to"]`); v != "bob" {
		t.Errorf("?to=bob filled in %q", v)
	}
	const title2 = "Standup in five minutes"
	b.do("send to bob",
		chromedp.SendKeys(chromedp.CSS(`input[name="title"]`), title2),
		chromedp.SendKeys(chromedp.CSS(`textarea[name="message"]`), "Room 2, or the usual call."),
		chromedp.Click(chromedp.CSS(`button[value="send"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#recipients tr[data-user="bob"] span.badge.queued`)),
		chromedp.WaitVisible(chromedp.ID("live")),
	)
	id2 := strings.TrimSuffix(strings.TrimPrefix(b.location(), srv.base+"/notifications/"), "?done=sent")
	b.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.xpushNoReload = true`))
	bob := srv.agent(t, "bob", "desk")
	bob.waitOnline(t)
	if n := bob.note(t); n.ID != id2 || n.Title != title2 {
		t.Errorf("bob got %+v, want id %s", n, id2)
	}
	b.do("see bob's delivery turn acked live",
		chromedp.WaitVisible(chromedp.CSS(`#recipients tr[data-user="bob"] span.badge.acked`)),
		chromedp.WaitNotVisible(chromedp.ID("live")),
	)
	if !b.eval(`window.xpushNoReload === true`) {
		t.Error("the page reloaded instead of updating in place")
	}
	if c := b.text(`#counts`); !strings.Contains(c, "0 queued") || !strings.Contains(c, "1 acked") {
		t.Errorf("counts after the live update %q", c)
	}

	// History lists both, newest first; a search finds the first.
	b.do("open the history", chromedp.Navigate(srv.base+"/notifications"),
		chromedp.WaitVisible(chromedp.CSS(`table tbody tr`)))
	rows := b.text(`table tbody`)
	if i, j := strings.Index(rows, title2), strings.Index(rows, title); i < 0 || j < 0 || i > j {
		t.Errorf("history rows, want %q above %q:\n%s", title2, title, rows)
	}
	if b.count(`table tbody tr`) != 2 || b.count(`table tbody span.badge.acked`) != 2 {
		t.Errorf("history: want 2 rows, each acked:\n%s", rows)
	}
	shot("console-history.png")
	b.do("search the history",
		chromedp.SendKeys(chromedp.CSS(`form.search input[name="q"]`), "cat picture"),
		chromedp.Click(chromedp.CSS(`form.search button`)),
		chromedp.WaitVisible(chromedp.CSS(`form.search a[href="/notifications"]`)),
	)
	if rows := b.text(`table tbody`); b.count(`table tbody tr`) != 1 || !strings.Contains(rows, title) {
		t.Errorf("search for %q found:\n%s", "cat picture", rows)
	}
	b.do("follow the search result",
		chromedp.Click(chromedp.CSS(`table tbody a`)),
		chromedp.WaitVisible(chromedp.ID("recipients")),
	)
	if loc := b.location(); loc != srv.base+"/notifications/"+id {
		t.Errorf("search result links to %s", loc)
	}

	// Users: alice and bob online, with their resources.
	b.do("open the users", chromedp.Navigate(srv.base+"/users"),
		chromedp.WaitVisible(chromedp.CSS(`table tbody tr`)))
	for _, u := range []struct{ name, resource string }{{"alice", "laptop"}, {"bob", "desk"}} {
		row := b.text(`table tbody tr:has(a[href="/users/` + u.name + `"])`)
		if !strings.Contains(row, "online") || !strings.Contains(row, u.resource) {
			t.Errorf("users row of %s: %q, want online with %s", u.name, row, u.resource)
		}
	}
	shot("console-users.png")

	// Forged requests, without the browser: a valid session cookie from
	// another origin, and the right origin without a cookie.
	cookie := b.sessionCookie()
	before := srv.historyLen(t)
	form := url.Values{"target": {"users"}, "to": {"alice"}, "title": {"control"}, "message": {"x"}, "action": {"send"}}
	for _, tc := range []struct {
		name    string
		headers map[string]string
		cookie  bool
		codes   []int
	}{
		{"cookie, Origin of another site", map[string]string{"Origin": "http://evil.example"}, true, []int{http.StatusForbidden}},
		{"cookie, Sec-Fetch-Site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}, true, []int{http.StatusForbidden}},
		{"no cookie, same origin", map[string]string{"Origin": srv.base, "Sec-Fetch-Site": "same-origin"}, false, []int{http.StatusUnauthorized, http.StatusSeeOther}},
		{"no cookie, no origin", nil, false, []int{http.StatusUnauthorized, http.StatusSeeOther}},
	} {
		var ck *http.Cookie
		if tc.cookie {
			ck = cookie
		}
		code, loc := srv.post(t, "/", form, ck, tc.headers)
		if !contains(tc.codes, code) || (code == http.StatusSeeOther && !strings.HasPrefix(loc, "/login")) {
			t.Errorf("%s: status %d (Location %q), want one of %v", tc.name, code, loc, tc.codes)
		}
	}
	if after := srv.historyLen(t); after != before {
		t.Errorf("a refused request was stored: history %d → %d", before, after)
	}
	// The same request from the right origin with the cookie is accepted:
	// the refusals above are not an accident of the form.
	if code, loc := srv.post(t, "/", form, cookie, map[string]string{"Origin": srv.base}); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/notifications/") {
		t.Errorf("same-origin POST with the cookie: %d %q", code, loc)
	}
	if n := alice.note(t); n.Title != "control" {
		t.Errorf("alice got %+v after the control request", n)
	}
	alice.noNote(t)
	b.checkConsole()
}

func contains(codes []int, c int) bool {
	for _, x := range codes {
		if x == c {
			return true
		}
	}
	return false
}

// findChromium returns Chromium's path. A missing browser skips the test
// unless XPUSH_INTEROP=1, which makes it a failure.
func findChromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err == nil {
		return chromiumPath
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if testserver.Required() {
		t.Fatalf("chromium is not installed at %s (run scripts/install-deps.sh test)", chromiumPath)
	}
	t.Skipf("chromium is not installed at %s; set XPUSH_INTEROP=1 to require it", chromiumPath)
	return ""
}

// testServer is an in-process xpushd on loopback with an in-memory store
// and an admin password.
type testServer struct {
	srv  *server.Server
	st   *store.Memory
	c2s  string
	base string // http://127.0.0.1:PORT
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	st := store.NewMemory()
	hash, err := console.HashPassword(browserPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetAdminHash(context.Background(), hash); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{Domain: "localhost", Store: st})
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, server.Listeners{C2S: cl, HTTP: hl}, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return &testServer{srv: srv, st: st, c2s: cl.Addr().String(), base: "http://" + hl.Addr().String()}
}

// addUser creates an account with the password agents use.
func (s *testServer) addUser(t *testing.T, name string) {
	t.Helper()
	sha1c, sha256c, err := account.Keys(name, agentPassword(name), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.st.CreateUser(context.Background(), store.User{Name: name, SHA1: sha1c, SHA256: sha256c, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

func agentPassword(user string) string { return "password of " + user }

func (s *testServer) historyLen(t *testing.T) int {
	t.Helper()
	h, err := s.st.History(context.Background(), store.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(h)
}

// states returns the stored delivery state of each recipient of id.
func (s *testServer) states(t *testing.T, id string) map[string]string {
	t.Helper()
	_, ds, err := s.srv.Sender.Status(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]string, len(ds))
	for _, d := range ds {
		m[d.User] = d.State
	}
	return m
}

// post sends a console form with plain net/http and returns the status
// and Location, without following redirects.
func (s *testServer) post(t *testing.T, path string, form url.Values, ck *http.Cookie, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if ck != nil {
		req.AddCookie(ck)
	}
	c := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header.Get("Location")
}

// agent is an xpush client connected to the test server. One goroutine
// reads its events for the whole test.
type agent struct {
	c      *xmpp.Client
	online chan string // full JIDs, as sessions come up
	errs   chan error  // permanent errors
	notes  chan *notification.Notification
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func (s *testServer) agent(t *testing.T, user, resource string) *agent {
	t.Helper()
	c, err := xmpp.New(xmpp.Config{
		JID:        user + "@localhost",
		Resource:   resource,
		Server:     s.c2s,
		Register:   true,
		Password:   func(context.Context) (string, error) { return agentPassword(user), nil },
		BackoffMin: 50 * time.Millisecond,
		BackoffMax: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &agent{
		c: c, cancel: cancel, done: make(chan struct{}),
		online: make(chan string, 8), errs: make(chan error, 8), notes: make(chan *notification.Notification, 32),
	}
	runDone := make(chan struct{})
	go func() { defer close(runDone); _ = c.Run(ctx) }()
	go func() {
		defer close(a.done)
		for ev := range c.Events() {
			switch ev := ev.(type) {
			case *xmpp.StateChange:
				switch {
				case ev.State == xmpp.StateOnline:
					nonBlocking(a.online, ev.JID)
				case ev.Err != nil && !ev.Retry:
					nonBlocking(a.errs, ev.Err)
				}
			case *xmpp.Notified:
				nonBlocking(a.notes, ev.Notification)
			}
		}
		<-runDone
	}()
	t.Cleanup(a.stop)
	return a
}

func nonBlocking[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

func (a *agent) stop() {
	a.once.Do(func() {
		a.cancel()
		<-a.done
	})
}

func (a *agent) waitOnline(t *testing.T) {
	t.Helper()
	select {
	case <-a.online:
	case err := <-a.errs:
		t.Fatalf("%s: %v", a.c.JID(), err)
	case <-time.After(stepTimeout):
		t.Fatalf("%s: not online after %v", a.c.JID(), stepTimeout)
	}
}

// note waits for the agent's next notification.
func (a *agent) note(t *testing.T) *notification.Notification {
	t.Helper()
	select {
	case n := <-a.notes:
		return n
	case <-time.After(stepTimeout):
		t.Fatalf("%s: no notification after %v", a.c.JID(), stepTimeout)
		return nil
	}
}

// noNote fails if a notification is waiting that the test did not take.
func (a *agent) noNote(t *testing.T) {
	t.Helper()
	select {
	case n := <-a.notes:
		t.Errorf("%s: unexpected notification %+v", a.c.JID(), n)
	default:
	}
}

// browser is a headless Chromium tab.
type browser struct {
	t    *testing.T
	ctx  context.Context
	mu   sync.Mutex
	logs []chromedp.ConsoleMessage
}

func newBrowser(parent context.Context, t *testing.T, exe string) *browser {
	t.Helper()
	actx, cancelAlloc := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	b := &browser{t: t, ctx: ctx}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		wg.Wait()
	})
	// The first action starts the browser, which lives as long as the
	// context of that action: it must be ctx itself, not a step's
	// shorter one. The parent's deadline bounds it.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}

	// The picture link is answered here, so that the browser stays off
	// the network and the screenshots show a picture.
	pic := testPicture()
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev, err := range paused {
			if err != nil {
				return
			}
			p := fetch.FulfillRequestParams{RequestID: ev.RequestID, ResponseCode: http.StatusNotFound}
			if ev.Request.URL == testImage {
				p.ResponseCode = http.StatusOK
				p.ResponseHeaders = []*fetch.HeaderEntry{{Name: "Content-Type", Value: "image/png"}}
				p.Body = pic
			}
			if _, err := chromedp.Call(ctx, fetch.FulfillRequest, p); err != nil && ctx.Err() == nil {
				t.Errorf("answer %s: %v", ev.Request.URL, err)
			}
		}
	}()
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: "*://example.org/*"}},
	}); err != nil {
		t.Fatalf("intercept: %v", err)
	}

	messages := chromedp.Console(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.logs = append(b.logs, m)
			b.mu.Unlock()
		}
	}()
	return b
}

// do runs actions as one named step, bounded by stepTimeout.
func (b *browser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fatal(step, err)
	}
}

func run[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fatal(what, err)
	}
	return v
}

// fatal ends the test with the step, the error and what the page shows.
func (b *browser) fatal(step string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("timed out: %w", err)
	}
	b.t.Fatalf("browser: %s: %v\nat %s, the page says:\n%s", step, err, loc, body)
}

func (b *browser) location() string {
	b.t.Helper()
	return run(b, "location", chromedp.Location())
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(run(b, "text of "+sel, chromedp.Text(chromedp.CSS(sel))))
}

func (b *browser) value(sel string) string {
	b.t.Helper()
	return run(b, "value of "+sel, chromedp.Value(chromedp.CSS(sel)))
}

func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	r := run(b, name+" of "+sel, chromedp.AttributeValue(chromedp.CSS(sel), name))
	return r.Value
}

func (b *browser) count(sel string) int {
	b.t.Helper()
	return run(b, "count "+sel, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
}

func (b *browser) eval(expr string) bool {
	b.t.Helper()
	return run(b, expr, chromedp.Evaluate[bool](expr))
}

// sessionCookie returns the console's session cookie from the browser.
func (b *browser) sessionCookie() *http.Cookie {
	b.t.Helper()
	res := run(b, "cookies", func(ctx context.Context, _ *chromedp.Target) (network.GetCookiesResult, error) {
		return chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	})
	for _, c := range res.Cookies {
		if c.Name == "xpush-session" {
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
				b.t.Errorf("session cookie: HttpOnly %v, SameSite %q", c.HTTPOnly, c.SameSite)
			}
			return &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	b.t.Fatalf("no session cookie in the browser: %+v", res.Cookies)
	return nil
}

// screenshot writes the whole page as a PNG to docs/screenshots.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	// Quality 100 is what makes FullScreenshot capture a PNG (below
	// 100 it is a JPEG).
	buf := run(b, "screenshot "+name, chromedp.FullScreenshot(100))
	if !bytes.HasPrefix(buf, []byte("\x89PNG\r\n\x1a\n")) {
		b.t.Fatalf("screenshot %s is not a PNG", name)
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	p := filepath.Join(screenshotDir, name)
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("wrote %s (%d KB)", p, len(buf)>>10)
}

// checkConsole fails on errors the page reported: script exceptions and
// content security policy violations.
func (b *browser) checkConsole() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.logs {
		b.t.Logf("browser console: %s: %s (%s)", m.Type, m.Text, m.URL)
		if m.Type == chromedp.ConsoleException || strings.Contains(m.Text, "Content Security Policy") {
			b.t.Errorf("browser console: %s: %s", m.Type, m.Text)
		}
	}
}

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// testPicture draws a small cat face as a PNG.
func testPicture() []byte {
	const w, h = 320, 200
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	sky, fur, dark, eye := color.RGBA{0xdd, 0xea, 0xf6, 0xff}, color.RGBA{0xe8, 0x9a, 0x3c, 0xff},
		color.RGBA{0x5a, 0x36, 0x12, 0xff}, color.RGBA{0x3c, 0x9a, 0x4a, 0xff}
	in := func(x, y, cx, cy, r int) bool { return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r }
	for y := range h {
		for x := range w {
			c := sky
			switch {
			case in(x, y, 138, 92, 9) || in(x, y, 182, 92, 9):
				c = eye
			case in(x, y, 160, 118, 6):
				c = dark
			case in(x, y, 160, 110, 62):
				c = fur
			// Ears: triangles above the head.
			case y >= 30 && y < 70 && abs(x-118) <= (y-30)/2+2, y >= 30 && y < 70 && abs(x-202) <= (y-30)/2+2:
				c = fur
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
