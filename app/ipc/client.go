package ipc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/xpush/xpush/app/control"
)

// Client is a control.Agent that calls the agent serving at a socket.
// Each call connects, sends one request, reads its answer and closes the
// connection, so a Client has no state to lose when the agent restarts
// and may be used by many goroutines at once.
//
// A call ends after its timeout (CallTimeout, or SaveAccountTimeout) or
// when its context ends, whichever is first, with an error that wraps the
// context's error (context.DeadlineExceeded on a timeout). When no agent
// serves the socket, or the connection breaks before the answer, the
// error wraps control.ErrNotRunning. The agent's own failures are *Error.
type Client struct {
	path string
	uid  int
}

var _ control.Agent = (*Client)(nil)

// Dial returns a client for the agent at path. It does no I/O: calls
// connect, and report control.ErrNotRunning when nobody listens.
func Dial(path string) *Client {
	return &Client{path: path, uid: os.Geteuid()}
}

// Status implements control.Agent.
func (c *Client) Status(ctx context.Context) (control.Status, error) {
	var resp response
	if err := c.call(ctx, request{Op: opStatus}, &resp); err != nil {
		return control.Status{}, err
	}
	if resp.Status == nil {
		return control.Status{}, missing(opStatus, "status")
	}
	return *resp.Status, nil
}

// SetDND implements control.Agent.
func (c *Client) SetDND(ctx context.Context, until time.Time) error {
	return c.call(ctx, request{Op: opSetDND, Until: until}, nil)
}

// Account implements control.Agent.
func (c *Client) Account(ctx context.Context) (control.Account, error) {
	var resp response
	if err := c.call(ctx, request{Op: opAccount}, &resp); err != nil {
		return control.Account{}, err
	}
	if resp.Account == nil {
		return control.Account{}, missing(opAccount, "account")
	}
	return *resp.Account, nil
}

// SaveAccount implements control.Agent. The password travels in the
// request; on Linux the client first checks that the agent runs as the
// same user.
func (c *Client) SaveAccount(ctx context.Context, a control.Account, password string, create bool) error {
	return c.call(ctx, request{Op: opSaveAccount, Account: &a, Password: password, Create: create}, nil)
}

// Settings implements control.Agent.
func (c *Client) Settings(ctx context.Context) (control.Settings, error) {
	var resp response
	if err := c.call(ctx, request{Op: opSettings}, &resp); err != nil {
		return control.Settings{}, err
	}
	if resp.Settings == nil {
		return control.Settings{}, missing(opSettings, "settings")
	}
	return *resp.Settings, nil
}

// SaveSettings implements control.Agent.
func (c *Client) SaveSettings(ctx context.Context, s control.Settings) error {
	return c.call(ctx, request{Op: opSaveSettings, Settings: &s}, nil)
}

// Open implements control.Agent.
func (c *Client) Open(ctx context.Context, key string) error {
	return c.call(ctx, request{Op: opOpen, Key: key}, nil)
}

// Show implements control.Agent.
func (c *Client) Show(ctx context.Context, window string) error {
	return c.call(ctx, request{Op: opShow, Window: window}, nil)
}

// ping asks the agent to answer; Listen uses it.
func (c *Client) ping(ctx context.Context) error {
	return c.call(ctx, request{Op: opPing}, nil)
}

func missing(op, field string) error {
	return fmt.Errorf("ipc: %s: the answer has no %q", op, field)
}

// call sends req and decodes the answer into resp (when not nil).
func (c *Client) call(ctx context.Context, req request, resp *response) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout(req.Op))
	defer cancel()
	line, err := encodeLine(req)
	if err != nil {
		return fmt.Errorf("ipc: %s: %w", req.Op, err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.path)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("ipc: %s: %w", req.Op, ctx.Err())
		}
		return fmt.Errorf("ipc: %s: %w (%v)", req.Op, control.ErrNotRunning, err)
	}
	defer conn.Close()
	if err := checkPeer(conn, c.uid); err != nil {
		return fmt.Errorf("ipc: %s: %s: %w", req.Op, c.path, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// Cancellation before the deadline: fail the pending read or write.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if _, err := conn.Write(line); err != nil {
		return c.ioError(ctx, req.Op, err)
	}
	b, err := readLine(bufio.NewReader(conn), MaxMessageSize)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return fmt.Errorf("ipc: %s: answer: %w", req.Op, err)
		}
		return c.ioError(ctx, req.Op, err)
	}
	var r response
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("ipc: %s: malformed answer: %w", req.Op, err)
	}
	if r.Error != "" {
		return &Error{Op: req.Op, Message: r.Error}
	}
	if resp != nil {
		*resp = r
	}
	return nil
}

// ioError classifies a failed read or write: the context's end, the
// deadline taken from it, or a connection the agent closed or broke
// (it is exiting, or refused this process).
func (c *Client) ioError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("ipc: %s: %w", op, ctx.Err())
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("ipc: %s: %w", op, context.DeadlineExceeded)
	}
	return fmt.Errorf("ipc: %s: %w (the connection ended: %v)", op, control.ErrNotRunning, err)
}
