//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package c2s

import (
	"errors"
	"net"
)

// pollConn is not available here: sessions wait for input inside the
// decoder's read, on a deeper stack.
type pollConn struct {
	net.Conn
	probe bool
}

func pollable(nc net.Conn) (net.Conn, *pollConn) { return nc, nil }

func (*pollConn) wait() error { return errors.New("c2s: no shallow waits on this system") }
