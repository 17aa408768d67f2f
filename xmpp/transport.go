package xmpp

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

// transport is one connection with its decoder. It is owned by one
// session: the negotiation reads and writes it from one goroutine; once the
// session serves, one reader goroutine reads and the serve loop writes.
// Closing conn is the session's job.
type transport struct {
	conn         net.Conn
	dec          *stream.Decoder
	ns           string // content namespace
	buf          []byte
	writeTimeout time.Duration
	// readTimeout bounds each read of the connection.
	readTimeout time.Duration
	lastWrite   time.Time
	now         func() time.Time

	// mu orders the deadlines set before each read and write against
	// expire, which another goroutine calls when the negotiation's time
	// is up: without it, the next read's deadline would undo the
	// expiry, and a cancelled or overdue negotiation would go on.
	mu      sync.Mutex
	expired bool
}

func newTransport(conn net.Conn, lim stream.Limits, writeTimeout, readTimeout time.Duration, now func() time.Time) *transport {
	t := &transport{
		conn:         conn,
		ns:           stanza.NSClient,
		writeTimeout: writeTimeout,
		readTimeout:  readTimeout,
		now:          now,
	}
	t.dec = stream.NewDecoder(conn, lim)
	t.dec.BeforeRead(t.setReadDeadline)
	return t
}

func (t *transport) setReadDeadline() {
	t.mu.Lock()
	defer t.mu.Unlock()
	_ = t.conn.SetReadDeadline(t.deadline(t.readTimeout))
}

// deadline returns the deadline for an I/O that may take d; t.mu is held.
func (t *transport) deadline(d time.Duration) time.Time {
	if t.expired {
		return time.Unix(1, 0)
	}
	return time.Now().Add(d)
}

// expire makes the pending and every later read and write fail with a
// timeout. It may be called from any goroutine.
func (t *transport) expire() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expired = true
	_ = t.conn.SetDeadline(time.Unix(1, 0))
}

// reset switches to a new connection (after STARTTLS) or restarts the
// stream on the same one (after SASL).
func (t *transport) reset(conn net.Conn) {
	t.mu.Lock()
	t.conn = conn
	t.mu.Unlock()
	t.dec.Reset(conn)
}

func (t *transport) write(b []byte) error {
	t.mu.Lock()
	_ = t.conn.SetWriteDeadline(t.deadline(t.writeTimeout))
	t.mu.Unlock()
	if _, err := t.conn.Write(b); err != nil {
		return fmt.Errorf("xmpp: write: %w", err)
	}
	// Disarm the deadline: left armed, its timer would wake an idle
	// client writeTimeout after every keepalive.
	t.mu.Lock()
	if !t.expired {
		_ = t.conn.SetWriteDeadline(time.Time{})
	}
	t.mu.Unlock()
	t.lastWrite = t.now()
	return nil
}

// send writes one element.
func (t *transport) send(el *stanza.Element) error {
	t.buf = el.AppendXML(t.buf[:0], t.ns)
	err := t.write(t.buf)
	if cap(t.buf) > 16<<10 {
		t.buf = nil // don't keep a large buffer for an idle session
	}
	return err
}

// next reads the next element, turning a received stream error into a
// Go error.
func (t *transport) next() (*stanza.Element, error) {
	el, err := t.dec.Next()
	if err != nil {
		return nil, err
	}
	if el.Is(stanza.NSStream, "error") {
		return nil, stream.ParseError(el)
	}
	return el, nil
}

// open writes our stream header and reads the server's header and
// features.
func (t *transport) open(domain string) (stream.Header, *stanza.Element, error) {
	hdr := stream.AppendHeader(nil, stream.Header{To: domain, Lang: "en", NS: t.ns})
	if err := t.write(hdr); err != nil {
		return stream.Header{}, nil, err
	}
	h, err := t.dec.ReadHeader()
	if err != nil {
		return h, nil, fmt.Errorf("xmpp: read stream header: %w", err)
	}
	if h.NS != "" && h.NS != t.ns {
		return h, nil, stream.InvalidNamespace.WithText(h.NS)
	}
	if h.Version == "" {
		// A pre-1.0 stream (jabberd 1.x style) sends no features: offer
		// only the legacy login.
		return h, stanza.New(stanza.NSStream, "features").Add(stanza.New(stanza.NSFeatureIQAuth, "auth")), nil
	}
	feats, err := t.next()
	if err != nil {
		return h, nil, fmt.Errorf("xmpp: read stream features: %w", err)
	}
	if !feats.Is(stanza.NSStream, "features") {
		return h, nil, stream.InvalidXML.WithText("expected <stream:features/>, got <" + feats.Name.Local + "/>")
	}
	return h, feats, nil
}

// closeStream writes </stream:stream>, best effort.
func (t *transport) closeStream() {
	_ = t.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = t.conn.Write([]byte(stream.CloseTag))
}

// roundTrip sends the iq req and returns the result or error iq with its
// id, skipping anything else. It is for the negotiation, before stanzas
// flow.
func (t *transport) roundTrip(req *stanza.Element) (*stanza.Element, error) {
	if err := t.send(req); err != nil {
		return nil, err
	}
	id := req.AttrValue("id")
	for {
		el, err := t.next()
		if err != nil {
			return nil, err
		}
		if el.Name.Local == "iq" && el.AttrValue("id") == id {
			switch el.AttrValue("type") {
			case stanza.TypeResult:
				return el, nil
			case stanza.TypeError:
				e, _ := stanza.ParseError(el)
				return el, e
			}
		}
	}
}
