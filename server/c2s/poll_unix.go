//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package c2s

import (
	"net"
	"syscall"
)

// pollConn is an accepted TCP connection (under TLS, if any) whose reads a
// session can probe, and whose readability it can wait for in a shallow
// frame. See link.
type pollConn struct {
	*net.TCPConn
	rc syscall.RawConn
	// probe is set by the link's goroutine around Decoder.Fill: a read
	// that would have to wait returns errWouldBlock instead. Nothing else
	// reads the connection, so no lock is needed.
	probe bool
	ready bool               // set by peek
	peek  func(uintptr) bool // pc.peekFD, bound once: no allocation per probe
}

// pollable returns nc wrapped in a pollConn when it is a TCP connection,
// and nc with a nil pollConn otherwise (the session then waits in the
// decoder, as on other systems).
func pollable(nc net.Conn) (net.Conn, *pollConn) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc, nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nc, nil
	}
	pc := &pollConn{TCPConn: tc, rc: rc}
	pc.peek = pc.peekFD
	return pc, pc
}

// Read reads from the connection; while probe is set, it returns
// errWouldBlock at once when no byte has arrived, rather than wait.
func (pc *pollConn) Read(b []byte) (int, error) {
	if pc.probe && len(b) > 0 {
		pc.ready = false
		if err := pc.rc.Read(pc.peek); err != nil {
			return 0, err // closed, or past the read deadline
		}
		if !pc.ready {
			return 0, errWouldBlock
		}
	}
	return pc.TCPConn.Read(b)
}

// peekFD is RawConn.Read's callback for a probe: it never waits.
func (pc *pollConn) peekFD(fd uintptr) bool {
	pc.ready = readable(fd)
	return true
}

// wait blocks until a byte, the end of the stream or an error can be read
// from the connection, or until its read deadline passes (the deadline's
// error, as a read would return it). It takes nothing from the connection
// and holds no buffer; its frames are few and small, so that an idle
// session's goroutine can wait on the smallest stack.
func (pc *pollConn) wait() error {
	return pc.rc.Read(readable)
}

// readable peeks at the socket without waiting or taking a byte. It is
// false only when nothing has arrived: Go's poller is edge-triggered, so
// RawConn.Read must not wait for bytes that came before it was called.
func readable(fd uintptr) bool {
	var b [1]byte
	for {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		return true // a byte, the end of the stream (0 bytes) or an error: a read will say which
	}
}
