package ipc

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/xpush/xpush/app/control"
)

// The peer check, seen from both ends, by pretending to be another user:
// the real peer always has our uid.

func TestServerRefusesOtherUser(t *testing.T) {
	path := sockPath(t)
	srv, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	srv.uid = os.Geteuid() + 1
	agent := &fakeAgent{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, agent) }()
	defer func() { cancel(); <-done }()

	err = Dial(path).Show(testCtx(t), "history")
	if !errors.Is(err, control.ErrNotRunning) {
		t.Errorf("Show from another user: %v, want ErrNotRunning (connection closed)", err)
	}
	if len(agent.shown) != 0 {
		t.Errorf("the agent served another user: %v", agent.shown)
	}
}

func TestClientRefusesOtherUser(t *testing.T) {
	agent := &fakeAgent{}
	path, _ := serve(t, agent)
	c := Dial(path)
	c.uid = os.Geteuid() + 1
	err := c.SaveAccount(testCtx(t), control.Account{JID: "a@b"}, "secret", false)
	if err == nil || !strings.Contains(err.Error(), "runs as user") {
		t.Errorf("SaveAccount to another user's agent: %v", err)
	}
	if agent.password != "" {
		t.Error("the password reached another user's agent")
	}
}
