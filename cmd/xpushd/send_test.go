package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xpush/xpush/xmpp"
)

// fakeAPI imitates xpushd's HTTP API and records what it was sent.
type fakeAPI struct {
	t     *testing.T
	mu    sync.Mutex
	posts []*http.Request
	body  []byte
	gets  int
	// states returns the recipients' states for the n-th GET (from 1).
	states func(n int) map[string]string
	// fail, when set, is the answer to POST.
	failCode int
	failBody string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer sekrit" {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"invalid or revoked API token"}`)
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/base/api/v1/notifications":
		f.posts = append(f.posts, r)
		f.body, _ = io.ReadAll(r.Body)
		if f.failCode != 0 {
			w.WriteHeader(f.failCode)
			io.WriteString(w, f.failBody)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"id":"n-1"}`)
	case r.Method == http.MethodGet && r.URL.Path == "/base/api/v1/notifications/n-1":
		f.gets++
		st := struct {
			ID         string `json:"id"`
			Recipients []struct {
				User  string `json:"user"`
				State string `json:"state"`
			} `json:"recipients"`
		}{ID: "n-1"}
		states := f.states(f.gets)
		for _, u := range []string{"alice", "bob"} {
			if s, ok := states[u]; ok {
				st.Recipients = append(st.Recipients, struct {
					User  string `json:"user"`
					State string `json:"state"`
				}{u, s})
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(st)
	default:
		f.t.Errorf("unexpected %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}
}

func newFakeAPI(t *testing.T) (*fakeAPI, string) {
	f := &fakeAPI{t: t, states: func(int) map[string]string { return map[string]string{"alice": "queued"} }}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL + "/base/"
}

func TestSendRequest(t *testing.T) {
	f, url := newFakeAPI(t)
	r := xpushd("send", "--http", url, "--token", "sekrit", "--to", "alice, bob", "--title", "Hello",
		"--message", "World ✓", "--uri", "https://example.org/x", "--ttl", "90m")
	if r.code != 0 || r.stdout != "n-1\n" {
		t.Fatalf("%v", r)
	}
	if len(f.posts) != 1 {
		t.Fatalf("%d POSTs", len(f.posts))
	}
	req := f.posts[0]
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var got map[string]any
	if err := json.Unmarshal(f.body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"to": []any{"alice", "bob"}, "title": "Hello", "message": "World ✓", "uri": "https://example.org/x", "ttl": "1h30m0s"}
	if g, w := mustJSON(got), mustJSON(want); g != w {
		t.Errorf("body %s\nwant %s", g, w)
	}

	// --all, and the token and URL from the environment; a bare
	// HOST:PORT in XPUSHD_HTTP is http://.
	host := strings.TrimPrefix(strings.TrimSuffix(url, "/base/"), "http://")
	r = invocation{env: map[string]string{"XPUSHD_TOKEN": "sekrit", "XPUSHD_HTTP": host + "/base"}}.run("send", "--all", "--message", "m")
	if r.code != 0 || r.stdout != "n-1\n" {
		t.Fatalf("%v", r)
	}
	json.Unmarshal(f.body, &got)
	if g := string(f.body); !strings.Contains(g, `"all":true`) || strings.Contains(g, `"to"`) || strings.Contains(g, `"ttl"`) {
		t.Errorf("--all body %s", g)
	}
	// A flag wins over XPUSHD_TOKEN.
	r = invocation{env: map[string]string{"XPUSHD_TOKEN": "sekrit"}}.run("send", "--http", url, "--token", "wrong", "--all", "--message", "m")
	if r.code != exitFail || !strings.Contains(r.stderr, "401 Unauthorized: invalid or revoked API token") {
		t.Errorf("wrong token: %v", r)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestSendServerError(t *testing.T) {
	f, url := newFakeAPI(t)
	f.failCode, f.failBody = http.StatusBadRequest, `{"error":"recipient \"x y\" is not a valid user name"}`
	r := xpushd("send", "--http", url, "--token", "sekrit", "--to", "x y", "--title", "t")
	if r.code != exitFail || r.stdout != "" {
		t.Fatalf("%v", r)
	}
	if want := "xpushd: the server answered 400 Bad Request: recipient \"x y\" is not a valid user name.\n"; r.stderr != want {
		t.Errorf("stderr %q\nwant   %q", r.stderr, want)
	}
	// Nothing listening.
	srv := httptest.NewServer(http.NotFoundHandler())
	dead := srv.URL
	srv.Close()
	r = xpushd("send", "--http", dead, "--token", "sekrit", "--to", "a", "--title", "t")
	if r.code != exitFail || !strings.Contains(r.stderr, "cannot reach the server") || strings.Contains(r.stderr, "sekrit") {
		t.Errorf("dead server: %v", r)
	}
}

func TestSendWait(t *testing.T) {
	f, url := newFakeAPI(t)
	f.states = func(n int) map[string]string {
		switch n {
		case 1:
			return map[string]string{"alice": "queued", "bob": "queued"}
		case 2:
			return map[string]string{"alice": "sent", "bob": "queued"}
		case 3:
			return map[string]string{"alice": "acked", "bob": "sent"}
		}
		return map[string]string{"alice": "acked", "bob": "acked"}
	}
	r := xpushd("send", "--http", url, "--token", "sekrit", "--to", "alice,bob", "--title", "t", "--wait", "sent")
	if r.code != 0 || r.stdout != "n-1\nalice acked\nbob sent\n" || f.gets != 3 {
		t.Errorf("--wait sent after %d GETs: %v", f.gets, r)
	}
	f.gets = 0
	r = xpushd("send", "--http", url, "--token", "sekrit", "--to", "alice,bob", "--title", "t", "--wait", "acked")
	if r.code != 0 || r.stdout != "n-1\nalice acked\nbob acked\n" || f.gets != 4 {
		t.Errorf("--wait acked after %d GETs: %v", f.gets, r)
	}

	// Never acked: bounded by --timeout.
	f.states = func(int) map[string]string { return map[string]string{"alice": "acked", "bob": "sent"} }
	start := time.Now()
	r = xpushd("send", "--http", url, "--token", "sekrit", "--to", "alice,bob", "--title", "t", "--wait", "acked", "--timeout", "400ms")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("--timeout 400ms took %v", d)
	}
	if r.code != exitFail || r.stdout != "n-1\nalice acked\nbob sent\n" || !strings.Contains(r.stderr, "timed out after 400ms waiting for every recipient to reach acked") {
		t.Errorf("timeout: %v", r)
	}

	// Expired: no point in waiting longer.
	f.states = func(int) map[string]string { return map[string]string{"alice": "acked", "bob": "expired"} }
	r = xpushd("send", "--http", url, "--token", "sekrit", "--to", "alice,bob", "--title", "t", "--wait", "acked")
	if r.code != exitFail || !strings.Contains(r.stderr, "expired before bob got it") {
		t.Errorf("expired: %v", r)
	}
}

// TestSendToRealServer sends through a served xpushd to a real XMPP
// client, and waits for its acknowledgement.
func TestSendToRealServer(t *testing.T) {
	s := serve(t)
	pw := strings.TrimSpace(must(t, "", "user", "add", "--data", s.data, "--name", "alice").stdout)
	must(t, "", "user", "add", "--data", s.data, "--name", "bob")
	tok := strings.TrimSpace(must(t, "", "token", "create", "--data", s.data).stdout)
	url := "http://" + s.http

	// Nobody online: queued, and --wait acked times out.
	r := xpushd("send", "--http", url, "--token", tok, "--to", "bob", "--title", "first", "--wait", "acked", "--timeout", "500ms")
	if r.code != exitFail || !regexp.MustCompile(`^[0-9a-f]{32}\nbob queued\n$`).MatchString(r.stdout) {
		t.Errorf("to an offline user: %v", r)
	}
	// An unknown user is the server's 400.
	r = xpushd("send", "--http", url, "--token", tok, "--to", "nobody", "--title", "t")
	if r.code != exitFail || !strings.Contains(r.stderr, "400 Bad Request") || !strings.Contains(r.stderr, "nobody") {
		t.Errorf("unknown recipient: %v", r)
	}

	cl, err := xmpp.New(xmpp.Config{
		JID:      "alice@localhost",
		Server:   s.c2s,
		Password: func(context.Context) (string, error) { return pw, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	online := make(chan struct{})
	titles := make(chan string, 8)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cl.Run(ctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		once := sync.Once{}
		for ev := range cl.Events() {
			switch ev := ev.(type) {
			case *xmpp.StateChange:
				if ev.State == xmpp.StateOnline {
					once.Do(func() { close(online) })
				}
				if ev.Err != nil {
					t.Logf("client: %v", ev.Err)
				}
			case *xmpp.Notified:
				titles <- ev.Notification.Title
			}
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	select {
	case <-online:
	case <-time.After(15 * time.Second):
		t.Fatalf("the client did not get online\n%s", s.stderr)
	}

	r = xpushd("send", "--http", url, "--token", tok, "--to", "alice", "--title", "hello alice", "--uri", "https://example.org/", "--wait", "acked", "--timeout", "20s")
	if r.code != 0 || !regexp.MustCompile(`^[0-9a-f]{32}\nalice acked\n$`).MatchString(r.stdout) {
		t.Fatalf("send --wait acked: %v\nserver log:\n%s", r, s.stderr)
	}
	select {
	case title := <-titles:
		if title != "hello alice" {
			t.Errorf("client got %q", title)
		}
	case <-time.After(5 * time.Second):
		t.Error("client event missing")
	}

	// The server stops within its grace period with a client connected.
	start := time.Now()
	if code := s.stop(t); code != 0 {
		t.Errorf("exit %d", code)
	}
	if d := time.Since(start); d > ShutdownGrace {
		t.Errorf("stopping with a client took %v", d)
	}
}
