package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSendForm(t *testing.T) {
	e := newEnv(t)
	ck := e.login()
	w := e.get("/?to=alice", ck)
	wantCode(t, w, http.StatusOK)
	b := body(w)
	wantContains(t, b, `name="to" value="alice"`, `name="ttl" value="24h"`, `value="users" checked`,
		`<figure id="preview" hidden>`, `<script src="/static/console.js?v=`)
}

func TestSend(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", t0)
	e.addUser("bob", t0)
	ck := e.login()
	w := e.post("/", ck, url.Values{
		"target": {"users"}, "to": {"alice,  Bob\nalice"}, "title": {"Hello"}, "message": {"A <b>message</b>"},
		"uri": {" https://example.org/cat.png "}, "ttl": {"2d"}, "action": {"send"},
	})
	wantCode(t, w, http.StatusSeeOther)
	calls := e.notifier.calls()
	if len(calls) != 1 {
		t.Fatalf("%d Notify calls, want 1", len(calls))
	}
	n := calls[0]
	if !slices.Equal(n.To, []string{"alice", "bob"}) || n.Broadcast || n.Title != "Hello" ||
		n.Message != "A <b>message</b>" || n.URI != "https://example.org/cat.png" || n.Sender != "console" ||
		!n.Expires.Equal(t0.Add(48*time.Hour)) {
		t.Errorf("notified %+v", n)
	}
	if loc := w.Header().Get("Location"); loc != "/notifications/"+n.ID+"?done=sent" {
		t.Errorf("Location %q", loc)
	}
	if _, ds, err := e.store.Notification(context.Background(), n.ID); err != nil || len(ds) != 2 {
		t.Errorf("stored: %v, %v", ds, err)
	}
	w = e.get(w.Header().Get("Location"), ck)
	wantCode(t, w, http.StatusOK)
	wantContains(t, body(w), "Sent.", "A &lt;b&gt;message&lt;/b&gt;", `<img class="thumb" src="https://example.org/cat.png"`)

	// Everyone, with the default time to live.
	w = e.post("/", ck, url.Values{"target": {"all"}, "to": {"ignored"}, "message": {"to all"}})
	wantCode(t, w, http.StatusSeeOther)
	calls = e.notifier.calls()
	if n := calls[len(calls)-1]; !n.Broadcast || len(n.To) != 0 || !n.Expires.Equal(t0.Add(24*time.Hour)) {
		t.Errorf("broadcast notified %+v", n)
	}
}

func TestSendInvalid(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", t0)
	ck := e.login()
	for _, tc := range []struct {
		form url.Values
		msg  string
	}{
		{url.Values{"to": {"alice"}}, "a title or a message"},
		{url.Values{"to": {" , "}, "title": {"x"}}, "at least one user"},
		{url.Values{"to": {"alice, carol"}, "title": {"x"}}, "carol"},
		{url.Values{"to": {"a@b"}, "title": {"x"}}, "is not a valid user name"},
		{url.Values{"target": {"some"}, "to": {"alice"}, "title": {"x"}}, "Choose some users or everyone."},
		{url.Values{"to": {"alice"}, "title": {"x"}, "ttl": {"forever"}}, "30m, 24h or 7d"},
		{url.Values{"to": {"alice"}, "title": {"x"}, "ttl": {"31d"}}, "at most 30d"},
		{url.Values{"to": {"alice"}, "title": {"x"}, "ttl": {"-1h"}}, "30m, 24h or 7d"},
		{url.Values{"to": {"alice"}, "title": {"x"}, "uri": {"javascript:alert(1)"}}, `The link is not usable (scheme "javascript" is not allowed).`},
		{url.Values{"to": {"alice"}, "title": {"x"}, "uri": {"javascript:alert(1)"}, "action": {"preview"}}, "The link is not usable"},
		{url.Values{"to": {"alice"}, "title": {strings.Repeat("x", 2000)}}, "Title longer than 1024 bytes."},
		{url.Values{"to": {"alice"}, "title": {"\xff"}}, "Text must be UTF-8."},
	} {
		w := e.post("/", ck, tc.form)
		if w.Code != http.StatusBadRequest {
			t.Errorf("%v: status %d, want 400", tc.form, w.Code)
			continue
		}
		b := body(w)
		m := errorPara.FindStringSubmatch(b)
		if m == nil || !strings.Contains(m[1], htmlEscape(tc.msg)) {
			t.Errorf("%v: error %q, want it to say %q", tc.form, m, tc.msg)
		}
		// The form comes back with what was entered.
		if to := tc.form.Get("to"); to != "" && !strings.Contains(to, "\n") {
			wantContains(t, b, `name="to" value="`+htmlEscape(to)+`"`)
		}
	}
	if n := len(e.notifier.calls()); n != 0 {
		t.Errorf("%d invalid notifications were sent", n)
	}
	// The javascript: link is not echoed as a live URL anywhere.
	w := e.post("/", ck, url.Values{"to": {"alice"}, "title": {"x"}, "uri": {"javascript:alert(1)"}})
	wantNotContains(t, body(w), `src="javascript:`, `href="javascript:`)
}

func TestSendTooLarge(t *testing.T) {
	e := newEnv(t)
	ck := e.login()
	w := e.post("/", ck, url.Values{"to": {"alice"}, "message": {strings.Repeat("x", maxForm)}})
	wantCode(t, w, http.StatusRequestEntityTooLarge)
	wantContains(t, body(w), "larger than")
}

func TestPreview(t *testing.T) {
	e := newEnv(t)
	ck := e.login()
	w := e.post("/", ck, url.Values{"to": {"alice"}, "title": {"Look"}, "uri": {"https://example.org/x/cat.JPEG?size=2"}, "action": {"preview"}})
	wantCode(t, w, http.StatusOK)
	b := body(w)
	wantContains(t, b, `<figure id="preview">`, `<img id="preview-img" alt="Preview of the link" src="https://example.org/x/cat.JPEG?size=2">`,
		`name="title" value="Look"`)
	if n := len(e.notifier.calls()); n != 0 {
		t.Error("preview sent the notification")
	}
	w = e.post("/", ck, url.Values{"to": {"alice"}, "title": {"Look"}, "uri": {"https://example.org/page.html"}, "action": {"preview"}})
	wantCode(t, w, http.StatusOK)
	b = body(w)
	wantContains(t, b, `<figure id="preview" hidden>`, "not a picture")
}

func TestIsImage(t *testing.T) {
	for uri, want := range map[string]bool{
		"https://example.org/a.png":       true,
		"http://example.org/a/b.GIF?x=1":  true,
		"https://example.org/a.webp#frag": true,
		"https://example.org/a.jpg.html":  false,
		"https://example.org/?f=a.png":    false,
		"ftp://example.org/a.png":         false,
		"data:image/png;base64,AAAA":      false,
		"javascript:x.png":                false,
		"https://u:p@example.org/a.png":   false,
		"/a.png":                          false,
	} {
		if got := isImage(uri); got != want {
			t.Errorf("isImage(%q) = %v", uri, got)
		}
	}
}

func TestParseTTL(t *testing.T) {
	for s, want := range map[string]time.Duration{"": 0, "30m": 30 * time.Minute, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour} {
		if got, err := parseTTL(s); err != nil || got != want {
			t.Errorf("parseTTL(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"0", "0s", "-5m", "31d", "0d", "d", "1.5d", "9999999999999d", "1y", "720h1s"} {
		if _, err := parseTTL(s); err == nil {
			t.Errorf("parseTTL(%q) succeeded", s)
		}
	}
}

var errorPara = regexp.MustCompile(`<p class="error" role="alert">(.*)</p>`)

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;").Replace(s)
}

// FuzzSendForm posts arbitrary form values to the send handler: it must
// never fail with 500 or panic, and a refusal is a 400 with a message.
func FuzzSendForm(f *testing.F) {
	f.Add("users", "alice", "Hello", "World", "https://example.org/a.png", "24h", "send")
	f.Add("all", "", "", "only a message", "", "", "")
	f.Add("users", "alice,bob;carol", "t", "", "javascript:alert(1)", "7d", "preview")
	f.Add("", "a@b/c", "<script>", "'; DROP TABLE users; --", "http://", "-1s", "send")
	f.Add("users", "\xff\xfe", "\x00", "%_\\", "https://u:p@h/", "99999999999d", "x")
	e := newEnv(f)
	e.t = nil
	e.addUserTB(f, "alice")
	e.addUserTB(f, "bob")
	sid := e.c.sessions.create()
	f.Fuzz(func(t *testing.T, target, to, title, message, uri, ttl, action string) {
		form := url.Values{"target": {target}, "to": {to}, "title": {title}, "message": {message}, "uri": {uri}, "ttl": {ttl}, "action": {action}}
		w := e.post("/", sid, form)
		switch w.Code {
		case http.StatusOK:
			if action != "preview" {
				t.Errorf("200 for action %q", action)
			}
		case http.StatusSeeOther:
			if !strings.HasPrefix(w.Header().Get("Location"), "/notifications/") {
				t.Errorf("redirect to %q", w.Header().Get("Location"))
			}
		case http.StatusBadRequest:
			if !strings.Contains(w.Body.String(), `<p class="error" role="alert">`) {
				t.Errorf("400 without a message: %s", w.Body)
			}
		case http.StatusRequestEntityTooLarge:
		default:
			t.Errorf("status %d: %s", w.Code, w.Body)
		}
	})
}
