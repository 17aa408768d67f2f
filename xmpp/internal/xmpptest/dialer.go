package xmpptest

import (
	"context"
	"net"
	"testing"
	"time"
)

// Dialer hands the client one end of a net.Pipe for each connection it
// makes and the test the other end. Its Dial method blocks until the test
// answers with Accept or Refuse, or the client's context ends, so a test
// decides when (and whether) each connection happens.
type Dialer struct {
	// RemoteAddr, when set, is what the client's end reports as its peer
	// address: a non-loopback *net.TCPAddr makes the client treat the
	// connection as remote (TLS required, no PLAIN in the clear).
	RemoteAddr net.Addr
	// Timeout bounds Accept and Refuse; DefaultTimeout.
	Timeout time.Duration

	t    testing.TB
	reqs chan dialReq
}

type dialReq struct {
	addr  string
	reply chan dialReply
}

type dialReply struct {
	conn net.Conn
	err  error
}

// NewDialer returns a Dialer for the test t.
func NewDialer(t testing.TB) *Dialer {
	return &Dialer{t: t, Timeout: DefaultTimeout, reqs: make(chan dialReq)}
}

// Dial is the client's dialer (xmpp.Config.Dial).
func (d *Dialer) Dial(ctx context.Context, _, addr string) (net.Conn, error) {
	req := dialReq{addr: addr, reply: make(chan dialReply, 1)}
	select {
	case d.reqs <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	r := <-req.reply
	return r.conn, r.err
}

// next waits for the client to dial.
func (d *Dialer) next(what string) (dialReq, bool) {
	d.t.Helper()
	t := time.NewTimer(d.Timeout)
	defer t.Stop()
	select {
	case req := <-d.reqs:
		return req, true
	case <-t.C:
		d.t.Errorf("xmpptest: %s: the client did not dial within %v", what, d.Timeout)
		return dialReq{}, false
	}
}

// Accept waits for the client to dial and returns the server side of the
// new connection. It returns nil (after t.Errorf) when the client does not
// dial in time.
func (d *Dialer) Accept() *Server {
	d.t.Helper()
	req, ok := d.next("accept")
	if !ok {
		return nil
	}
	c, s := net.Pipe()
	var conn net.Conn = c
	if d.RemoteAddr != nil {
		conn = addrConn{Conn: c, remote: d.RemoteAddr}
	}
	req.reply <- dialReply{conn: conn}
	srv := New(d.t, s)
	srv.Addr = req.addr
	return srv
}

// Refuse waits for the client to dial and fails that dial with err. It
// returns the address the client dialed, or "" when it did not dial in
// time.
func (d *Dialer) Refuse(err error) string {
	d.t.Helper()
	req, ok := d.next("refuse")
	if !ok {
		return ""
	}
	req.reply <- dialReply{err: err}
	return req.addr
}

// ExpectNoDial checks that the client does not dial within wait. It is an
// absence check, not a synchronisation: keep wait short.
func (d *Dialer) ExpectNoDial(wait time.Duration) {
	d.t.Helper()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case req := <-d.reqs:
		req.reply <- dialReply{err: net.ErrClosed}
		d.t.Errorf("xmpptest: the client dialed %s, want no dial", req.addr)
	case <-t.C:
	}
}

// addrConn reports a remote address of the test's choosing.
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }
