package listen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xpush/xpush/app/listen"
	"github.com/xpush/xpush/app/secret"
	"github.com/xpush/xpush/server"
	"github.com/xpush/xpush/server/send"
	"github.com/xpush/xpush/server/store"
)

// startServer runs an in-process xpushd and returns its c2s address and
// sender.
func startServer(t *testing.T) (string, *send.Sender) {
	t.Helper()
	srv, err := server.New(server.Options{Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, server.Listeners{C2S: l}, time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	return l.Addr().String(), srv.Sender
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestListenPrintsJSONAndExits(t *testing.T) {
	addr, sender := startServer(t)
	keys := &secret.Memory{}
	var stdout, stderr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- listen.Main(context.Background(), []string{"--server", addr, "--jid", "ann@localhost", "--register", "--count", "2", "--timeout", "20s"},
			keys, strings.NewReader(""), &stdout, &stderr)
	}()
	// The generated password is in the keyring before registration.
	var id1 string
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		id1, err = sender.Send(context.Background(), send.Request{To: []string{"ann"}, Title: "first", URI: "https://example.org/a.png"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("send: %v; stderr: %s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := sender.Send(context.Background(), send.Request{To: []string{"ann"}, Title: "second", Message: "m"}); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit %d; stderr: %s", c, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("listen did not exit")
	}
	pw, err := keys.Get("ann@localhost")
	if err != nil || len(pw) < 20 {
		t.Fatalf("keyring: %q %v", pw, err)
	}
	if strings.Contains(stdout.String()+stderr.String(), pw) {
		t.Fatal("the password was printed")
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout: %q", stdout.String())
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"id": id1, "title": "first", "uri": "https://example.org/a.png", "kind": "iq", "from": "localhost"} {
		if first[k] != want {
			t.Errorf("%s = %v, want %v", k, first[k], want)
		}
	}
	if _, err := time.Parse(time.RFC3339, first["received"].(string)); err != nil {
		t.Errorf("received: %v", err)
	}
}

func TestListenTimesOut(t *testing.T) {
	addr, _ := startServer(t)
	var stdout, stderr syncBuffer
	c := listen.Main(context.Background(), []string{"--server", addr, "--jid", "bo@localhost", "--register", "--password-stdin", "--count", "1", "--timeout", "500ms"},
		&secret.Memory{}, strings.NewReader("a-good-password\n"), &stdout, &stderr)
	if c != 1 || !strings.Contains(stderr.String(), "timed out") {
		t.Fatalf("exit %d, stderr %q", c, stderr.String())
	}
}

func TestListenWrongPasswordFails(t *testing.T) {
	addr, _ := startServer(t)
	run := func(pw, timeout string) (int, string) {
		var stdout, stderr syncBuffer
		c := listen.Main(context.Background(), []string{"--server", addr, "--jid", "cy@localhost", "--register", "--password-stdin", "--count", "1", "--timeout", timeout},
			&secret.Memory{}, strings.NewReader(pw+"\n"), &stdout, &stderr)
		return c, stderr.String()
	}
	// Register the account, then come back with another password.
	if c, _ := run("the-right-password", "1s"); c != 1 {
		t.Fatalf("first run: exit %d", c)
	}
	c, errOut := run("a-wrong-password", "20s")
	if c != 1 || !strings.Contains(errOut, "Wrong user name or password") {
		t.Fatalf("exit %d, stderr %q", c, errOut)
	}
}

func TestListenUsage(t *testing.T) {
	var stdout, stderr syncBuffer
	keys := &secret.Memory{}
	if c := listen.Main(context.Background(), []string{"--server", "127.0.0.1:1"}, keys, strings.NewReader(""), &stdout, &stderr); c != 2 {
		t.Fatalf("no --jid: exit %d", c)
	}
	if c := listen.Main(context.Background(), []string{"--jid", "x@localhost"}, keys, strings.NewReader(""), &stdout, &stderr); c != 2 || !strings.Contains(stderr.String(), "--register") {
		t.Fatalf("no password: exit %d, %q", c, stderr.String())
	}
}
