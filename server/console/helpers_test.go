package console

import (
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xpush/xpush/server/account"
	"github.com/xpush/xpush/server/send"
	"github.com/xpush/xpush/server/store"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const adminPassword = "correct horse battery"

// cheapArgon keeps tests fast; CheckPassword reads the parameters from
// the hash.
var cheapArgon = argonParams{time: 1, memory: 64, threads: 1}

// clock is a settable fixed clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeNotifier records what the sender hands to delivery.
type fakeNotifier struct {
	mu  sync.Mutex
	got []store.Notification
}

func (f *fakeNotifier) Notify(_ context.Context, n *store.Notification) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, *n)
}

func (f *fakeNotifier) calls() []store.Notification {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.Notification(nil), f.got...)
}

// fakePresence is a fixed set of sessions per user.
type fakePresence map[string][]SessionInfo

func (p fakePresence) SessionsOf(user string) []SessionInfo { return p[user] }

type testEnv struct {
	t        *testing.T
	c        *Console
	store    *store.Memory
	notifier *fakeNotifier
	clock    *clock
	presence fakePresence
	sender   *send.Sender
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type envOption func(*Options)

// newEnv builds a console over a memory store with an admin password set.
func newEnv(t testing.TB, opts ...envOption) *testEnv {
	t.Helper()
	st := store.NewMemory()
	clk := &clock{t: t0}
	n := &fakeNotifier{}
	sender := &send.Sender{Store: st, Notifier: n, Now: clk.Now}
	pres := fakePresence{}
	o := Options{Store: st, Sender: sender, Presence: pres, Iters: 1, Now: clk.Now}
	for _, f := range opts {
		f(&o)
	}
	if err := st.SetAdminHash(context.Background(), hashPassword(adminPassword, cheapArgon)); err != nil {
		t.Fatal(err)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	tt, _ := t.(*testing.T)
	return &testEnv{t: tt, c: c, store: st, notifier: n, clock: clk, presence: pres, sender: sender}
}

// do sends a request through the console.
func (e *testEnv) do(req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.c.ServeHTTP(w, req)
	return w
}

// get fetches path with the session cookie (none when cookie is "").
func (e *testEnv) get(path, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: e.c.cookie, Value: cookie})
	}
	return e.do(req)
}

// post submits a form as a same-origin browser would.
func (e *testEnv) post(path, cookie string, form url.Values, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", "http://example.com")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: e.c.cookie, Value: cookie})
	}
	return e.do(req)
}

// login logs in and returns the session cookie's value.
func (e *testEnv) login() string {
	e.t.Helper()
	w := e.post("/login", "", url.Values{"password": {adminPassword}})
	if w.Code != http.StatusSeeOther {
		e.t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	for _, ck := range w.Result().Cookies() {
		if ck.Name == e.c.cookie {
			return ck.Value
		}
	}
	e.t.Fatal("login set no session cookie")
	return ""
}

func (e *testEnv) addUser(name string, created time.Time) {
	e.t.Helper()
	e.addUserAt(e.t, name, created)
}

func (e *testEnv) addUserTB(t testing.TB, name string) { e.addUserAt(t, name, t0) }

func (e *testEnv) addUserAt(t testing.TB, name string, created time.Time) {
	t.Helper()
	s1, s256, err := account.Keys(name, "password1", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateUser(context.Background(), store.User{Name: name, SHA1: s1, SHA256: s256, Created: created}); err != nil {
		t.Fatal(err)
	}
}

func body(w *httptest.ResponseRecorder) string {
	b, _ := io.ReadAll(w.Result().Body)
	return string(b)
}

func wantCode(t *testing.T, w *httptest.ResponseRecorder, code int) {
	t.Helper()
	if w.Code != code {
		t.Fatalf("status %d, want %d; body:\n%s", w.Code, code, w.Body)
	}
}

func wantContains(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("output lacks %q", sub)
		}
	}
}

func wantNotContains(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			t.Errorf("output has %q", sub)
		}
	}
}

func httptestPost(path string, form url.Values) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}
