package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xpush/xpush/server/send"
	"github.com/xpush/xpush/server/store"
)

func TestNewNeedsStoreAndSender(t *testing.T) {
	st := store.NewMemory()
	if _, err := New(Options{Sender: &send.Sender{}}); err == nil {
		t.Error("New without Store succeeded")
	}
	if _, err := New(Options{Store: st}); err == nil {
		t.Error("New without Sender succeeded")
	}
}

func TestLoginNoAdminPassword(t *testing.T) {
	st := store.NewMemory()
	c, err := New(Options{Store: st, Sender: &send.Sender{Store: st, Notifier: &fakeNotifier{}, Now: time.Now}})
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, c: c, store: st}
	w := e.get("/login", "")
	wantCode(t, w, http.StatusOK)
	wantContains(t, body(w), "xpushd admin passwd --data DIR")
	wantNotContains(t, w.Body.String(), `type="password"`)

	w = e.post("/login", "", url.Values{"password": {"anything at all"}})
	wantCode(t, w, http.StatusForbidden)
	wantContains(t, body(w), "No admin password is set", "xpushd admin passwd --data DIR")
	if len(w.Result().Cookies()) != 0 {
		t.Error("a refused login set a cookie")
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	w := e.get("/login", "")
	wantCode(t, w, http.StatusOK)
	wantContains(t, body(w), `<input type="password" name="password"`)

	w = e.post("/login", "", url.Values{"password": {"wrong password"}})
	wantCode(t, w, http.StatusUnauthorized)
	wantContains(t, body(w), "Wrong password.")
	if len(w.Result().Cookies()) != 0 {
		t.Error("a wrong password set a cookie")
	}

	w = e.post("/login", "", url.Values{"password": {adminPassword}})
	wantCode(t, w, http.StatusSeeOther)
	if loc := w.Header().Get("Location"); loc != "/" {
		t.Errorf("Location = %q, want /", loc)
	}
	cks := w.Result().Cookies()
	if len(cks) != 1 {
		t.Fatalf("cookies = %v", cks)
	}
	ck := cks[0]
	if ck.Name != "xpush-session" || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure {
		t.Errorf("cookie %+v: want xpush-session, HttpOnly, SameSite=Strict, Path=/, not Secure", ck)
	}
	if len(ck.Value) != 43 { // 32 bytes, base64url without padding
		t.Errorf("session id %q is not 256 bits", ck.Value)
	}
	w = e.get("/", ck.Value)
	wantCode(t, w, http.StatusOK)
	wantContains(t, body(w), "Send a notification", "Log out")

	// Logged in, /login goes to the console.
	w = e.get("/login", ck.Value)
	wantCode(t, w, http.StatusSeeOther)
}

func TestSecureCookie(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Secure = true })
	w := e.post("/login", "", url.Values{"password": {adminPassword}})
	wantCode(t, w, http.StatusSeeOther)
	ck := w.Result().Cookies()[0]
	if ck.Name != "__Host-xpush-session" || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Errorf("cookie %+v: want a Secure __Host- cookie", ck)
	}
	if w := e.get("/", ck.Value); w.Code != http.StatusOK {
		t.Errorf("GET / with the secure cookie: %d", w.Code)
	}
}

func TestLoginNext(t *testing.T) {
	e := newEnv(t)
	w := e.get("/users?q=a", "")
	wantCode(t, w, http.StatusSeeOther)
	loc := w.Header().Get("Location")
	if loc != "/login?next=%2Fusers%3Fq%3Da" {
		t.Fatalf("Location = %q", loc)
	}
	w = e.get(loc, "")
	wantContains(t, body(w), `name="next" value="/users?q=a"`)
	for next, want := range map[string]string{
		"/users?q=a":                "/users?q=a",
		"//evil.example/":           "/",
		"https://evil.example/":     "/",
		"/\\evil.example":           "/",
		"javascript:alert(1)":       "/",
		"/login":                    "/",
		"":                          "/",
		"/notifications/x?page=2#y": "/notifications/x?page=2#y",
	} {
		w := e.post("/login", "", url.Values{"password": {adminPassword}, "next": {next}})
		wantCode(t, w, http.StatusSeeOther)
		if got := w.Header().Get("Location"); got != want {
			t.Errorf("next %q: Location = %q, want %q", next, got, want)
		}
	}
}

func TestLoginThrottle(t *testing.T) {
	e := newEnv(t)
	for range freeFailures + 1 {
		w := e.post("/login", "", url.Values{"password": {"guess"}})
		wantCode(t, w, http.StatusUnauthorized)
	}
	// Now even the right password waits.
	w := e.post("/login", "", url.Values{"password": {adminPassword}})
	wantCode(t, w, http.StatusTooManyRequests)
	if w.Header().Get("Retry-After") != "1" {
		t.Errorf("Retry-After = %q, want 1", w.Header().Get("Retry-After"))
	}
	wantContains(t, body(w), "Too many wrong passwords")
	// Another address is not affected.
	req := httptestPost("/login", url.Values{"password": {adminPassword}})
	req.RemoteAddr = "192.0.2.9:4000"
	wantCode(t, e.do(req), http.StatusSeeOther)

	e.clock.Advance(time.Second)
	w = e.post("/login", "", url.Values{"password": {"guess"}})
	wantCode(t, w, http.StatusUnauthorized)
	w = e.post("/login", "", url.Values{"password": {adminPassword}})
	wantCode(t, w, http.StatusTooManyRequests)
	if w.Header().Get("Retry-After") != "2" {
		t.Errorf("backoff did not double: Retry-After = %q", w.Header().Get("Retry-After"))
	}
	e.clock.Advance(2 * time.Second)
	wantCode(t, e.post("/login", "", url.Values{"password": {adminPassword}}), http.StatusSeeOther)
	// Success forgets the failures.
	wantCode(t, e.post("/login", "", url.Values{"password": {"guess"}}), http.StatusUnauthorized)
	wantCode(t, e.post("/login", "", url.Values{"password": {adminPassword}}), http.StatusSeeOther)
}

func TestThrottleBounded(t *testing.T) {
	clk := &clock{t: t0}
	th := newThrottle(clk.Now)
	for i := range maxThrottled + 10 {
		th.fail("10.0." + itoa3(i))
	}
	if len(th.m) > maxThrottled+1 { // plus the shared overflow entry
		t.Errorf("throttle map has %d entries, bound %d", len(th.m), maxThrottled)
	}
	clk.Advance(throttleWindow)
	th.fail("new")
	if _, ok := th.m["new"]; !ok || len(th.m) > 2 {
		t.Errorf("stale entries were not dropped: %d left", len(th.m))
	}
}

func itoa3(i int) string {
	return strconv.Itoa(i/65536) + "." + strconv.Itoa(i/256%256) + "." + strconv.Itoa(i%256)
}

func TestSessions(t *testing.T) {
	e := newEnv(t)
	ck := e.login()
	e.clock.Advance(SessionIdle - time.Minute)
	wantCode(t, e.get("/", ck), http.StatusOK) // used: idle timer restarts
	e.clock.Advance(SessionIdle - time.Minute)
	wantCode(t, e.get("/", ck), http.StatusOK)
	e.clock.Advance(SessionIdle)
	wantCode(t, e.get("/", ck), http.StatusSeeOther)

	// Absolute expiry, however busy.
	ck = e.login()
	for range int(SessionMax / time.Hour) {
		e.clock.Advance(time.Hour)
	}
	wantCode(t, e.get("/", ck), http.StatusSeeOther)

	// Logout ends the session server-side and clears the cookie.
	ck = e.login()
	w := e.post("/logout", ck, nil)
	wantCode(t, w, http.StatusSeeOther)
	if got := w.Result().Cookies(); len(got) != 1 || got[0].MaxAge >= 0 {
		t.Errorf("logout cookies = %v, want one expired", got)
	}
	wantCode(t, e.get("/", ck), http.StatusSeeOther)
}

func TestSessionsBounded(t *testing.T) {
	clk := &clock{t: t0}
	s := newSessions(clk.Now)
	first := s.create()
	for range maxSessions {
		clk.Advance(time.Millisecond)
		s.create()
	}
	if len(s.m) > maxSessions {
		t.Errorf("%d sessions, bound %d", len(s.m), maxSessions)
	}
	if s.valid(first) {
		t.Error("the oldest session survived a full map")
	}
	if s.valid("") || s.valid("made-up") {
		t.Error("an unknown id is valid")
	}
}

func TestAuthRequired(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", t0)
	for _, path := range []string{"/", "/notifications", "/notifications/x", "/users", "/users/alice", "/tokens"} {
		w := e.get(path, "")
		wantCode(t, w, http.StatusSeeOther)
		if loc := w.Header().Get("Location"); !strings.HasPrefix(loc, "/login?next=") {
			t.Errorf("GET %s: Location %q", path, loc)
		}
	}
	form := url.Values{"target": {"users"}, "to": {"alice"}, "title": {"hi"}}
	for _, path := range []string{"/", "/users", "/users/alice/delete", "/users/alice/password", "/tokens", "/tokens/revoke", "/invites"} {
		w := e.post(path, "", form)
		wantCode(t, w, http.StatusUnauthorized)
		wantContains(t, body(w), "Log in again", `href="/login"`)
	}
	w := e.post("/", "made-up-session", form)
	wantCode(t, w, http.StatusUnauthorized)
	if n := len(e.notifier.calls()); n != 0 {
		t.Errorf("%d notifications sent without a session", n)
	}
	if _, err := e.store.User(context.Background(), "alice"); err != nil {
		t.Error("alice was deleted without a session")
	}
	w = e.get("/console/api/notifications/x", "")
	wantCode(t, w, http.StatusUnauthorized)
	var msg map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &msg); err != nil || msg["error"] == "" {
		t.Errorf("API 401 body %q is not a JSON error", w.Body)
	}
}

func TestCrossOriginRefused(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", t0)
	ck := e.login()
	form := url.Values{"target": {"users"}, "to": {"alice"}, "title": {"hi"}}
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Sec-Fetch-Site", "", "Origin", "http://evil.example"},
	} {
		w := e.post("/", ck, form, hdr...)
		wantCode(t, w, http.StatusForbidden)
		wantContains(t, body(w), "another site")
		if w.Header().Get("Content-Security-Policy") != ContentSecurityPolicy {
			t.Error("403 page without CSP")
		}
	}
	for _, path := range []string{"/login", "/logout", "/users/alice/delete", "/tokens"} {
		w := e.post(path, ck, url.Values{"password": {adminPassword}, "name": {"x"}}, "Sec-Fetch-Site", "cross-site")
		wantCode(t, w, http.StatusForbidden)
	}
	if n := len(e.notifier.calls()); n != 0 {
		t.Errorf("%d cross-origin notifications sent", n)
	}
	if _, err := e.store.User(context.Background(), "alice"); err != nil {
		t.Error("a cross-origin request deleted alice")
	}
	// The session survived the refused logout.
	wantCode(t, e.get("/", ck), http.StatusOK)
	// Same-origin goes through.
	wantCode(t, e.post("/", ck, form), http.StatusSeeOther)
}

var (
	inlineScript = regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`)
	styleAttr    = regexp.MustCompile(`(?i)<[^>]+\sstyle\s*=`)
	styleElem    = regexp.MustCompile(`(?i)<style`)
	handlerAttr  = regexp.MustCompile(`(?i)<[^>]+\son[a-z]+\s*=`)
	jsURL        = regexp.MustCompile(`(?i)(href|src|action)\s*=\s*"\s*javascript:`)
)

func TestSecurityHeadersAndNoInline(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", t0)
	ck := e.login()
	w := e.post("/", ck, url.Values{"target": {"users"}, "to": {"alice"}, "title": {"hi"}, "uri": {"https://example.org/a.png"}})
	wantCode(t, w, http.StatusSeeOther)
	detail := w.Header().Get("Location")
	pages := map[string]string{
		"/login": "", "/": ck, "/notifications": ck, detail: ck, "/users": ck, "/users/alice": ck,
		"/tokens": ck, "/nowhere": ck, "/static/console.css": "", "/static/console.js": "",
		"/static/nope.js": "", "/console/api/notifications/x": ck,
	}
	for path, cookie := range pages {
		w := e.get(path, cookie)
		h := w.Header()
		if got := h.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
			t.Errorf("%s: CSP %q", path, got)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", path, h)
		}
		if !strings.Contains(h.Get("Content-Type"), "text/html") {
			continue
		}
		b := body(w)
		for _, re := range []*regexp.Regexp{inlineScript, styleAttr, styleElem, handlerAttr, jsURL} {
			if m := re.FindString(b); m != "" {
				t.Errorf("%s: inline code %q", path, m)
			}
		}
	}
	if got := e.get("/static/console.css", "").Header().Get("Content-Type"); !strings.HasPrefix(got, "text/css") {
		t.Errorf("CSS served as %q", got)
	}
	wantCode(t, e.get("/static/nope.js", ""), http.StatusNotFound)
	wantCode(t, e.get("/nowhere", ck), http.StatusNotFound)
	if w := e.get("/static/", ""); w.Code != http.StatusNotFound {
		t.Errorf("GET /static/: %d, want no listing", w.Code)
	}
	const csp = "default-src 'none'; style-src 'self'; img-src 'self' https: http: data:; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	if ContentSecurityPolicy != csp {
		t.Errorf("CSP changed:\n%s\nwant\n%s", ContentSecurityPolicy, csp)
	}
}

type failingStore struct {
	*store.Memory
}

func (failingStore) History(context.Context, store.Page) ([]store.Summary, error) {
	return nil, errTest
}

type testError string

func (e testError) Error() string { return string(e) }

const errTest = testError("store: disk on fire at /var/lib/secret")

func TestInternalErrorIsGeneric(t *testing.T) {
	e := newEnv(t)
	fs := failingStore{e.store}
	c, err := New(Options{Store: fs, Sender: e.sender, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	ck := e.login()
	w := e.get("/notifications", ck)
	wantCode(t, w, http.StatusInternalServerError)
	b := body(w)
	wantContains(t, b, "Something went wrong")
	wantNotContains(t, b, "disk on fire", "/var/lib/secret")
}
