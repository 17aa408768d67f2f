package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xpush/xpush/server/send"
)

// sendN sends a notification with a fixed id at the env's clock.
func (e *testEnv) sendN(t *testing.T, req send.Request) {
	t.Helper()
	if _, err := e.sender.Send(context.Background(), req); err != nil {
		t.Fatalf("send %s: %v", req.ID, err)
	}
}

// fixture fills the store with a small, fixed history.
func fixture(t *testing.T) *testEnv {
	e := newEnv(t)
	e.addUser("alice", t0.Add(-48*time.Hour))
	e.addUser("bob", t0.Add(-48*time.Hour))
	e.addUser("carol", t0.Add(-48*time.Hour))
	ctx := context.Background()
	e.sendN(t, send.Request{
		ID: "n1-welcome", To: []string{"alice", "bob", "carol"}, Title: "Welcome",
		Message: "Hello from xpushd", URI: "https://example.org/welcome.png", TTL: time.Hour, Sender: "console",
	})
	e.clock.Advance(2 * time.Minute)
	must(t, e.store.MarkSent(ctx, "n1-welcome", "alice", e.clock.Now()))
	must(t, e.store.Ack(ctx, "n1-welcome", "alice", e.clock.Now()))
	must(t, e.store.MarkSent(ctx, "n1-welcome", "bob", e.clock.Now()))
	e.clock.Advance(10 * time.Minute)
	e.sendN(t, send.Request{
		ID: "n2-<xss>", To: []string{"bob"}, Title: `<script>alert("x")</script> & 'quotes'`,
		Message: "<img src=x onerror=alert(1)>", Sender: "token:ci",
	})
	e.clock.Advance(time.Minute)
	e.sendN(t, send.Request{ID: "n3-all", All: true, Title: "", Message: "To everyone: 100% of _users_", TTL: 30 * time.Minute})
	e.clock.Advance(2 * time.Hour)
	if _, err := e.store.Expire(ctx, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (run go test -update after checking):\n%s", name, path, diffLines(string(want), string(got)))
	}
}

// diffLines shows the first differing lines.
func diffLines(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\nwant: %s\ngot:  %s", i+1, w, g)
		}
	}
	return ""
}

func TestHistoryGolden(t *testing.T) {
	e := fixture(t)
	ck := e.login()
	w := e.get("/notifications", ck)
	wantCode(t, w, http.StatusOK)
	golden(t, "history", w.Body.Bytes())

	w = e.get("/notifications/n1-welcome", ck)
	wantCode(t, w, http.StatusOK)
	golden(t, "notification", w.Body.Bytes())
}

func TestHistoryEscapes(t *testing.T) {
	e := fixture(t)
	ck := e.login()
	b := body(e.get("/notifications", ck))
	wantContains(t, b, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;quotes&#39;",
		"&lt;img src=x onerror=alert(1)&gt;", `href="/notifications/n2-%3Cxss%3E"`)
	wantNotContains(t, b, "<script>alert", "<img src=x")
	w := e.get("/notifications/n2-%3Cxss%3E", ck)
	wantCode(t, w, http.StatusOK)
	b = body(w)
	wantContains(t, b, "<title>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;quotes&#39; · xpushd</title>")
	wantNotContains(t, b, "<script>alert", "<img src=x")
}

func TestHistorySearch(t *testing.T) {
	e := fixture(t)
	ck := e.login()
	for q, want := range map[string][]string{
		"welcome":                   {"n1-welcome"},
		"WELCOME":                   {"n1-welcome"},
		"bob":                       {"n2-%3Cxss%3E", "n1-welcome"},
		"100%":                      {"n3-all"},
		"%":                         {"n3-all"},
		"_users_":                   {"n3-all"},
		"_":                         {"n3-all"},
		"'quotes'":                  {"n2-%3Cxss%3E"},
		"' OR '1'='1":               nil,
		"\"; DROP TABLE notes; --":  nil,
		"<script>":                  {"n2-%3Cxss%3E"},
		"example.org/welcome.png":   {"n1-welcome"},
		"nothing matches this text": nil,
	} {
		w := e.get("/notifications?q="+urlQuery(q), ck)
		wantCode(t, w, http.StatusOK)
		b := body(w)
		var got []string
		for _, part := range strings.Split(b, `<a href="/notifications/`)[1:] {
			got = append(got, part[:strings.IndexByte(part, '"')])
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("q=%q: got %v, want %v", q, got, want)
		}
		if want == nil {
			wantContains(t, b, "Nothing matches your search.")
		}
		wantContains(t, b, `name="q" value="`+htmlEscape(q)+`"`)
	}
	w := e.get("/notifications?q="+strings.Repeat("x", maxQuery+1), ck)
	wantCode(t, w, http.StatusBadRequest)
}

func urlQuery(s string) string {
	return strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", " ", "+", "#", "%23", "'", "%27", "\"", "%22", ";", "%3B", "<", "%3C", ">", "%3E").Replace(s)
}

func TestHistoryPaging(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", t0)
	for i := range 2*pageSize + 3 {
		e.clock.Advance(time.Second)
		e.sendN(t, send.Request{ID: fmt.Sprintf("id%03d", i), To: []string{"alice"}, Title: fmt.Sprintf("Note %d", i)})
	}
	ck := e.login()
	rows := func(b string) int { return strings.Count(b, `<a href="/notifications/id`) }
	b := body(e.get("/notifications", ck))
	if n := rows(b); n != pageSize {
		t.Errorf("page 1: %d rows", n)
	}
	wantContains(t, b, "id052", `<a href="/notifications?page=2">Older</a>`, "<span>Page 1</span>")
	wantNotContains(t, b, "Newer", "id027")
	b = body(e.get("/notifications?page=2", ck))
	wantContains(t, b, "id027", "id003", `<a href="/notifications">Newer</a>`, `<a href="/notifications?page=3">Older</a>`)
	b = body(e.get("/notifications?page=3", ck))
	if n := rows(b); n != 3 {
		t.Errorf("page 3: %d rows", n)
	}
	wantContains(t, b, "id000", `<a href="/notifications?page=2">Newer</a>`)
	wantNotContains(t, b, "Older")
	b = body(e.get("/notifications?page=9", ck))
	wantContains(t, b, "No more notifications.")
	// Paging keeps the search.
	b = body(e.get("/notifications?q=Note+1", ck))
	wantContains(t, b, "Note 19", "Note 10", "Note 1<")
	b = body(e.get("/notifications?q=%25&page=2", ck))
	wantContains(t, b, "Nothing matches")
	for _, p := range []string{"0", "-1", "x", "1e3", "99999999999999999999"} {
		wantCode(t, e.get("/notifications?page="+p, ck), http.StatusBadRequest)
	}
	if got := pageLink("/notifications", "a b&c", 2); got != "/notifications?page=2&q=a+b%26c" {
		t.Errorf("pageLink = %q", got)
	}
}

func TestNotificationLive(t *testing.T) {
	e := fixture(t)
	ck := e.login()
	ctx := context.Background()
	e.sendN(t, send.Request{ID: "live", To: []string{"alice", "bob"}, Title: "Live"})
	w := e.get("/notifications/live", ck)
	wantCode(t, w, http.StatusOK)
	b := body(w)
	wantContains(t, b, `data-poll="/console/api/notifications/live"`, `<a href="/notifications/live">Reload</a>`,
		`<span class="badge queued" data-state="queued">2 queued</span>`)
	wantNotContains(t, b, "data-final")

	get := func() status {
		t.Helper()
		w := e.get("/console/api/notifications/live", ck)
		wantCode(t, w, http.StatusOK)
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		var st status
		must(t, json.Unmarshal(w.Body.Bytes(), &st))
		return st
	}
	st := get()
	if st.Final || st.Total != 2 || st.CountMap["queued"] != 2 || len(st.Recipients) != 2 {
		t.Errorf("status %+v", st)
	}
	e.clock.Advance(time.Second)
	must(t, e.store.MarkSent(ctx, "live", "alice", e.clock.Now()))
	must(t, e.store.Ack(ctx, "live", "alice", e.clock.Now()))
	must(t, e.store.MarkSent(ctx, "live", "bob", e.clock.Now()))
	st = get()
	if st.CountMap["acked"] != 1 || st.CountMap["sent"] != 1 || st.Recipients[0] != (recipientRow{"alice", "acked", "2026-03-01 14:13:01"}) {
		t.Errorf("status %+v", st)
	}
	must(t, e.store.Ack(ctx, "live", "bob", e.clock.Now()))
	if st = get(); !st.Final {
		t.Errorf("all acked, yet not final: %+v", st)
	}
	wantContains(t, body(e.get("/notifications/live", ck)), `data-final="true"`)

	wantCode(t, e.get("/notifications/nope", ck), http.StatusNotFound)
	w = e.get("/console/api/notifications/nope", ck)
	wantCode(t, w, http.StatusNotFound)
	wantContains(t, body(w), `{"error":"There is no notification with this id."}`)
}

func TestNotificationManyRecipients(t *testing.T) {
	e := newEnv(t)
	var to []string
	for i := range maxRecipientsShown + 5 {
		name := fmt.Sprintf("u%04d", i)
		e.addUser(name, t0)
		to = append(to, name)
	}
	e.sendN(t, send.Request{ID: "big", To: to, Title: "Big"})
	ck := e.login()
	b := body(e.get("/notifications/big", ck))
	wantContains(t, b, fmt.Sprintf("Showing the first %d of %d recipients.", maxRecipientsShown, maxRecipientsShown+5),
		fmt.Sprintf("%d queued", maxRecipientsShown+5))
	if n := strings.Count(b, "<tr data-user="); n != maxRecipientsShown {
		t.Errorf("%d rows", n)
	}
	b = body(e.get("/notifications", ck))
	wantContains(t, b, "u0000, u0001, u0002 and 1002 more")
}
