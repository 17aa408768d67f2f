package xmpptest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

// DefaultTimeout bounds every read and write of a Server, and every wait
// of a Dialer: long enough for a loaded machine running -race, short
// enough that a broken test fails instead of hanging.
const DefaultTimeout = 5 * time.Second

// DefaultDomain is the domain a Server names itself with.
const DefaultDomain = "example.org"

// Namespaces the scripts use.
const (
	NSTLS      = "urn:ietf:params:xml:ns:xmpp-tls"
	NSSASL     = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSBind     = "urn:ietf:params:xml:ns:xmpp-bind"
	NSSession  = "urn:ietf:params:xml:ns:xmpp-session"
	NSSM       = "urn:xmpp:sm:3"
	NSIQAuth   = "jabber:iq:auth"
	NSRegister = "jabber:iq:register"
	NSPing     = "urn:xmpp:ping"
	NSStanzas  = stanza.NSStanzas
	NSStreams  = stream.NSError
)

// Server is the server end of one client connection. Reading methods
// (Expect*, Next) must be called from one goroutine at a time; Send may be
// called from another. The zero value is not usable: use New or
// Dialer.Accept.
type Server struct {
	// Domain is the domain the server names itself with in its stream
	// header; DefaultDomain unless the test changes it before SendHeader.
	Domain string
	// Timeout bounds each read and write; DefaultTimeout.
	Timeout time.Duration
	// Addr is the address the client dialed (set by Dialer.Accept).
	Addr string

	t      testing.TB
	conn   net.Conn // the raw connection
	in     *pump    // what the decoder reads: conn's, or the TLS layer's
	dec    *stream.Decoder
	header bool // a client stream header was read
	pumps  []*pump

	mu       sync.Mutex
	w        net.Conn // where Send writes: conn, or the TLS layer
	tls      *tls.ConnectionState
	cert     *x509.Certificate // the leaf the server presented over TLS
	features string            // the last features sent
	lines    []string
	failed   bool
	closed   bool
}

// New starts serving conn, the server end of a connection, and registers
// its Close with t.Cleanup.
func New(t testing.TB, conn net.Conn) *Server {
	s := &Server{
		Domain:  DefaultDomain,
		Timeout: DefaultTimeout,
		t:       t,
		conn:    conn,
		in:      newPump(conn),
		w:       conn,
	}
	s.pumps = []*pump{s.in}
	s.dec = stream.NewDecoder(s.in, stream.Limits{})
	t.Cleanup(s.Close)
	return s
}

// Conn returns the server end of the connection, for tests that write
// bytes of their own (benchmarks); what is written through it is not
// recorded.
func (s *Server) Conn() net.Conn { return s.conn }

// Close closes the connection and waits for the reading goroutine to end.
// It may be called more than once.
func (s *Server) Close() {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if already {
		return
	}
	s.conn.Close()
	for _, p := range s.pumps {
		p.close()
	}
	for _, p := range s.pumps {
		<-p.done
	}
}

// Failed reports whether a step of this server failed.
func (s *Server) Failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// fail reports a failed step with t.Errorf, which is safe off the test
// goroutine, and closes the connection so that the client notices too.
func (s *Server) fail(format string, args ...any) {
	s.t.Helper()
	s.mu.Lock()
	first := !s.failed
	s.failed = true
	s.mu.Unlock()
	if first {
		s.t.Errorf("xmpptest: "+format, args...)
		s.t.Logf("xmpptest: transcript so far:\n%s", s.Transcript())
	}
	s.conn.Close()
}

func (s *Server) record(dir, text string) {
	s.mu.Lock()
	s.lines = append(s.lines, dir+text)
	s.mu.Unlock()
}

// Lines returns what was recorded so far, unredacted: "C: " lines for
// what the client wrote and "S: " lines for what the server wrote.
func (s *Server) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

// Transcript returns the recorded lines with SASL payloads redacted (see
// RedactSASL), one per line, ending in a newline.
func (s *Server) Transcript() string {
	var b strings.Builder
	for _, l := range s.Lines() {
		b.WriteString(RedactSASL(l))
		b.WriteByte('\n')
	}
	return b.String()
}

// Discard stops recording and buffering what the client writes: for
// benchmarks that let the client write millions of acknowledgements.
// Reading methods must not be used afterwards.
func (s *Server) Discard() { s.in.setDiscard() }

// Send writes raw XML to the client and records it.
func (s *Server) Send(xml string) {
	s.t.Helper()
	if s.Failed() {
		return
	}
	s.record("S: ", xml)
	s.mu.Lock()
	w := s.w
	s.mu.Unlock()
	_ = w.SetWriteDeadline(time.Now().Add(s.Timeout))
	if _, err := io.WriteString(w, xml); err != nil {
		s.fail("send %s: %v", xml, err)
	}
}

// Sendf formats and sends.
func (s *Server) Sendf(format string, args ...any) {
	s.t.Helper()
	s.Send(fmt.Sprintf(format, args...))
}

// SendElement sends an element encoded in the jabber:client namespace.
func (s *Server) SendElement(el *stanza.Element) {
	s.t.Helper()
	s.Send(el.String())
}

// SendHeader sends the server's stream header with the given id, then
// <stream:features> holding features.
func (s *Server) SendHeader(id, features string) {
	s.t.Helper()
	s.mu.Lock()
	s.features = features
	s.mu.Unlock()
	s.Send(string(stream.AppendHeader(nil, stream.Header{From: s.Domain, ID: id, Lang: "en"})))
	s.Send("<stream:features>" + features + "</stream:features>")
}

// ExpectHeader reads the client's stream header; after the first one it
// restarts the stream (RFC 6120 §4.3.3). It checks that the header is
// addressed to Domain and is a jabber:client stream.
func (s *Server) ExpectHeader() stream.Header {
	s.t.Helper()
	if s.Failed() {
		return stream.Header{}
	}
	if s.header {
		s.dec.Reset(s.in)
	}
	s.in.setDeadline(time.Now().Add(s.Timeout))
	h, err := s.dec.ReadHeader()
	s.record("C: ", strings.TrimLeft(string(s.in.take()), " \t\r\n"))
	if err != nil {
		s.fail("waiting for the client's stream header: %v", err)
		return h
	}
	s.header = true
	if h.To != s.Domain || h.NS != stanza.NSClient || h.Version != "1.0" {
		s.fail("client stream header: got to=%q xmlns=%q version=%q, want to=%q xmlns=%q version=1.0",
			h.To, h.NS, h.Version, s.Domain, stanza.NSClient)
	}
	return h
}

// Next reads the next element the client wrote and records it. Unlike
// the Expect methods it does not fail the test on an error.
func (s *Server) Next() (*stanza.Element, error) {
	if s.Failed() {
		return nil, errors.New("xmpptest: an earlier step failed")
	}
	s.in.setDeadline(time.Now().Add(s.Timeout))
	el, err := s.dec.Next()
	raw := strings.TrimLeft(string(s.in.take()), " \t\r\n")
	switch {
	case err == nil:
		s.record("C: ", raw)
	case errors.Is(err, stream.ErrClosed):
		s.record("C: ", stream.CloseTag)
	case raw != "":
		s.record("C: ", raw+" [incomplete: "+err.Error()+"]")
	}
	return el, err
}

// Expect reads the next element and checks it with ok; what describes the
// element wanted, for the failure message.
func (s *Server) Expect(what string, ok func(*stanza.Element) bool) *stanza.Element {
	s.t.Helper()
	if s.Failed() {
		return nil
	}
	el, err := s.Next()
	if err != nil {
		s.fail("waiting for %s: %v", what, err)
		return nil
	}
	if !ok(el) {
		s.fail("want %s, got %s", what, el)
		return nil
	}
	return el
}

// ExpectName reads the next element and checks its name.
func (s *Server) ExpectName(space, local string) *stanza.Element {
	s.t.Helper()
	return s.Expect(fmt.Sprintf("<%s xmlns=%q/>", local, space), func(el *stanza.Element) bool {
		return el.Is(space, local)
	})
}

// ExpectIQ reads the next element and checks that it is an iq of type typ
// whose payload is <local xmlns=space/> (any payload, or none, when local
// is empty).
func (s *Server) ExpectIQ(typ, space, local string) *stanza.Element {
	s.t.Helper()
	what := fmt.Sprintf("<iq type=%q>", typ)
	if local != "" {
		what += fmt.Sprintf(" with <%s xmlns=%q/>", local, space)
	}
	return s.Expect(what, func(el *stanza.Element) bool {
		if !el.Is(stanza.NSClient, "iq") || el.AttrValue("type") != typ {
			return false
		}
		return local == "" || el.Child(space, local) != nil
	})
}

// ExpectResult reads the next element and checks that it is the empty
// result of the iq with the given id.
func (s *Server) ExpectResult(id string) *stanza.Element {
	s.t.Helper()
	return s.Expect(fmt.Sprintf(`<iq type="result" id=%q/>`, id), func(el *stanza.Element) bool {
		return el.Is(stanza.NSClient, "iq") && el.AttrValue("type") == stanza.TypeResult && el.AttrValue("id") == id
	})
}

// ExpectError reads the next element and checks that it is an error reply
// to the stanza with the given id, with the given stanza error condition.
func (s *Server) ExpectError(id, condition string) *stanza.Element {
	s.t.Helper()
	return s.Expect(fmt.Sprintf(`error reply to id %q with <%s/>`, id, condition), func(el *stanza.Element) bool {
		e, ok := stanza.ParseError(el)
		return ok && el.AttrValue("id") == id && e.Condition == condition
	})
}

// ExpectWhitespace checks that the client writes whitespace next (a
// keepalive), and records it as one "C: ' '" line however many spaces
// came in.
func (s *Server) ExpectWhitespace() {
	s.t.Helper()
	if s.Failed() {
		return
	}
	s.in.setDeadline(time.Now().Add(s.Timeout))
	n, err := s.in.skipSpace()
	switch {
	case err != nil:
		s.fail("waiting for a whitespace keepalive: %v", err)
	case n == 0:
		s.fail("want a whitespace keepalive, got %q", s.in.peek(64))
	default:
		s.record("C: ", "' '")
	}
}

// ExpectClose checks that the client closes the stream with
// </stream:stream>.
func (s *Server) ExpectClose() {
	s.t.Helper()
	if s.Failed() {
		return
	}
	el, err := s.Next()
	if !errors.Is(err, stream.ErrClosed) {
		s.fail("want </stream:stream>, got element %v, error %v", el, err)
	}
}

// ExpectEOF checks that the client drops the connection without writing
// anything more (whitespace aside).
func (s *Server) ExpectEOF() {
	s.t.Helper()
	if s.Failed() {
		return
	}
	el, err := s.Next()
	if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		s.fail("want the connection to end, got element %v, error %v", el, err)
		return
	}
	s.record("C: ", "[connection closed]")
}

// SendStreamError sends <stream:error> with the condition and closes the
// stream.
func (s *Server) SendStreamError(condition, text string) {
	s.t.Helper()
	e := stream.Error{Condition: condition, Text: text}
	s.Send(e.Element().String() + stream.CloseTag)
}

// StartTLS answers the client's <starttls/> with <proceed/> and runs the
// TLS handshake as the server with cfg; the stream goes on encrypted, and
// the transcript records it in the clear. It must not run concurrently
// with Send.
func (s *Server) StartTLS(cfg *tls.Config) {
	s.t.Helper()
	if err := s.TryStartTLS(cfg); err != nil {
		s.fail("tls handshake: %v", err)
	}
}

// TryStartTLS is StartTLS for a handshake that may fail: it returns the
// handshake's error instead of failing the test (it still fails it when
// the client does not ask for TLS).
func (s *Server) TryStartTLS(cfg *tls.Config) error {
	s.t.Helper()
	if s.ExpectName(NSTLS, "starttls") == nil {
		return errors.New("xmpptest: no <starttls/>")
	}
	s.Send(`<proceed xmlns="` + NSTLS + `"/>`)
	if s.Failed() {
		return errors.New("xmpptest: an earlier step failed")
	}
	return s.handshake(cfg)
}

// StartDirectTLS runs the server's TLS handshake at once, as on a direct
// TLS port (XEP-0368).
func (s *Server) StartDirectTLS(cfg *tls.Config) {
	s.t.Helper()
	if err := s.handshake(cfg); err != nil {
		s.fail("tls handshake: %v", err)
	}
}

// TryDirectTLS is StartDirectTLS for a handshake that may fail.
func (s *Server) TryDirectTLS(cfg *tls.Config) error { return s.handshake(cfg) }

func (s *Server) handshake(cfg *tls.Config) error {
	tc := tls.Server(pumpConn{Conn: s.conn, p: s.in}, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		s.record("S: ", "[TLS handshake failed]")
		return err
	}
	s.record("S: ", "[TLS handshake]")
	state := tc.ConnectionState()
	var leaf *x509.Certificate
	if len(cfg.Certificates) > 0 && len(cfg.Certificates[0].Certificate) > 0 {
		leaf, _ = x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	}
	in := newPump(tc)
	s.mu.Lock()
	s.w, s.tls, s.cert = tc, &state, leaf
	s.mu.Unlock()
	s.in = in
	s.pumps = append(s.pumps, in)
	s.dec.Reset(in)
	return nil
}

// TLSState returns the server's side of the TLS connection, or nil.
func (s *Server) TLSState() *tls.ConnectionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tls
}

// pumpConn is the raw connection as the TLS server sees it: reads come
// from the pump that drains it.
type pumpConn struct {
	net.Conn
	p *pump
}

func (c pumpConn) Read(b []byte) (int, error) { return c.p.readAny(b) }
