package stream

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/xpush/xpush/xmpp/stanza"
)

// Default limits. A push notification is a few hundred bytes; 256 KiB leaves
// room for rosters and data forms while bounding what one peer can make us
// hold.
const (
	DefaultMaxStanza = 256 << 10
	DefaultMaxDepth  = 32
	DefaultMaxAttrs  = 32
	// headerSlack bounds the stream header and whitespace before it.
	headerSlack = 4 << 10
	// After a stanza larger than shrinkBytes (or a quarter of MaxStanza
	// if that is less), or one whose elements and namespace declarations
	// stacked up more than shrinkHeight deep, encoding/xml's decoder is
	// replaced before the next read that may block: it keeps buffers and
	// a stack as large as the largest stanza so far, for the stream's
	// lifetime, and an idle session should not hold that.
	shrinkBytes  = 2 << 10
	shrinkHeight = 64
)

// Limits bound what a Decoder accepts. Zero fields take the defaults.
type Limits struct {
	MaxStanza int // bytes of one top-level element; whitespace between elements is not counted
	MaxDepth  int // element nesting inside a stanza, the stanza itself at 1
	MaxAttrs  int // attributes on one element, namespace declarations included
}

func (l Limits) withDefaults() Limits {
	if l.MaxStanza <= 0 {
		l.MaxStanza = DefaultMaxStanza
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxAttrs <= 0 {
		l.MaxAttrs = DefaultMaxAttrs
	}
	return l
}

// Header is a stream's opening tag.
type Header struct {
	To, From, ID, Version, Lang string
	// NS is the content namespace (jabber:client, jabber:component:accept).
	NS string
}

// Decoder reads one direction of an XML stream. It is not safe for
// concurrent use: one goroutine owns it. A Decoder does not own the reader
// it reads from; closing that is the caller's job.
type Decoder struct {
	r      reader
	xd     *xml.Decoder
	lim    Limits
	header bool // a stream header was read
	ns     string
	err    error // the error that ended the stream, returned again by Next
	// replay is a start tag that puts a new xml.Decoder where the stream
	// header left this one: same raw name, same namespace declarations;
	// "" when it cannot be built.
	replay string
	shrink bool // replace xd at the next stanza boundary
	height int  // stack height encoding/xml reached in this stanza
}

// NewDecoder returns a Decoder reading from r. It does no I/O.
func NewDecoder(r io.Reader, lim Limits) *Decoder {
	d := &Decoder{lim: lim.withDefaults()}
	d.r.r = r
	d.r.limit = headerSlack
	d.xd = newXMLDecoder(&d.r)
	return d
}

func newXMLDecoder(r io.Reader) *xml.Decoder {
	xd := xml.NewDecoder(r)
	xd.Strict = true
	// No entity map: only the five predefined entities and character
	// references are expanded, and unknown ones are errors.
	xd.Entity = nil
	// XMPP is UTF-8 only (RFC 6120 §11.6); encoding/xml calls this for
	// any other encoding an XML declaration names.
	xd.CharsetReader = refuseCharset
	return xd
}

func refuseCharset(label string, _ io.Reader) (io.Reader, error) {
	return nil, UnsupportedEncoding.WithText(label)
}

// BeforeRead sets a function that runs before each read of the underlying
// reader, typically to set a read deadline. It must not be changed while a
// read is in progress. A failed read, a deadline included, ends the
// stream: the Decoder returns that error from then on.
func (d *Decoder) BeforeRead(f func()) { d.r.beforeRead = f }

// Reset discards the decoder's state so that a new stream (after STARTTLS
// or SASL, RFC 6120 §4.3.3) can be read from r. Buffered bytes are dropped:
// the peer sends nothing after the element that restarts the stream until
// it has seen our new header.
func (d *Decoder) Reset(r io.Reader) {
	d.r.buf = nil
	d.r.release()
	d.r.err = nil
	d.r.r = r
	d.r.wantBig = false
	d.r.limit = d.r.n + headerSlack
	d.header = false
	d.ns = ""
	d.err = nil
	d.replay = ""
	d.shrink = false
	d.xd = newXMLDecoder(&d.r)
}

// Offset returns the number of bytes read so far.
func (d *Decoder) Offset() int64 { return d.r.n }

// ReadHeader reads the XML declaration (if any) and the stream header.
func (d *Decoder) ReadHeader() (Header, error) {
	h, err := d.readHeader()
	if err != nil {
		d.err = err
	}
	return h, err
}

func (d *Decoder) readHeader() (Header, error) {
	if d.err != nil {
		return Header{}, d.err
	}
	d.r.limit = d.r.n + headerSlack
	for first := true; ; first = false {
		tok, err := d.token()
		if err != nil {
			return Header{}, err
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			// Only the XML declaration, only before the header.
			if t.Target != "xml" || !first {
				return Header{}, RestrictedXML.WithText("processing instruction")
			}
			if enc := procInstParam(string(t.Inst), "encoding"); enc != "" && !strings.EqualFold(enc, "utf-8") {
				return Header{}, UnsupportedEncoding.WithText(enc)
			}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return Header{}, NotWellFormed.WithText("text before the stream header")
			}
		case xml.StartElement:
			if t.Name.Local != "stream" {
				return Header{}, InvalidXML.WithText("expected a stream header, got <" + t.Name.Local + ">")
			}
			if t.Name.Space != stanza.NSStream {
				return Header{}, InvalidNamespace.WithText("stream namespace " + t.Name.Space)
			}
			if err := d.checkAttrs(t.Attr); err != nil {
				return Header{}, err
			}
			h := Header{}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					h.NS = a.Value
				case a.Name.Space == "":
					switch a.Name.Local {
					case "to":
						h.To = a.Value
					case "from":
						h.From = a.Value
					case "id":
						h.ID = a.Value
					case "version":
						h.Version = a.Value
					}
				case a.Name.Local == "lang" && (a.Name.Space == stanza.NSXML || a.Name.Space == "xml"):
					h.Lang = a.Value
				}
			}
			d.header = true
			d.ns = h.NS
			d.replay = replayTag(t)
			return h, nil
		default:
			return Header{}, NotWellFormed.WithText(fmt.Sprintf("unexpected %T before the stream header", tok))
		}
	}
}

// Next reads the next top-level element of the stream, skipping whitespace.
// It returns ErrClosed when the peer closes the stream, an Error for input
// that breaks the protocol or a limit, and the reader's error otherwise.
// Once it has returned an error, it returns the same error again.
func (d *Decoder) Next() (*stanza.Element, error) {
	if d.err != nil {
		return nil, d.err
	}
	if !d.header {
		return nil, errors.New("stream: Next before ReadHeader")
	}
	e, err := d.next()
	if err != nil {
		d.err = err
	}
	return e, err
}

func (d *Decoder) next() (*stanza.Element, error) {
	// Whitespace between stanzas (the keepalive) is dropped before
	// encoding/xml sees it, which would otherwise keep it as character
	// data until the next '<': an idle stream would grow that buffer and
	// count its keepalives against MaxStanza.
	for !d.r.skipSpace() {
		if d.shrink {
			d.shrinkXML()
		}
		if err := d.r.fill(); err != nil {
			return nil, d.mapErr(err)
		}
	}
	start := d.r.n
	d.r.limit = start + int64(d.lim.MaxStanza)
	d.height = 0
	if d.xd == nil {
		// Released while idle: rebuild it now that an element starts.
		if d.xd = d.replayXML(); d.xd == nil {
			return nil, errors.New("stream: cannot restore the XML decoder")
		}
	}
	e, err := d.stanza()
	if err == nil && d.replay != "" &&
		(d.r.n-start > int64(min(shrinkBytes, d.lim.MaxStanza/4)) || d.height > shrinkHeight) {
		d.shrink = true
	}
	return e, err
}

// stanza reads the next top-level element.
func (d *Decoder) stanza() (*stanza.Element, error) {
	for {
		tok, err := d.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, NotWellFormed.WithText("text between stanzas")
			}
		case xml.EndElement:
			return nil, ErrClosed
		case xml.StartElement:
			return d.element(t, 1, 1)
		default:
			return nil, RestrictedXML.WithText(fmt.Sprintf("%T", tok))
		}
	}
}

// element reads the rest of the element that start opened, at depth;
// height counts the entries of encoding/xml's stack below it, the stream
// header's included.
func (d *Decoder) element(start xml.StartElement, depth, height int) (*stanza.Element, error) {
	if depth > d.lim.MaxDepth {
		return nil, PolicyViolation.WithText("elements nested too deep")
	}
	if err := checkName(start.Name); err != nil {
		return nil, err
	}
	if err := d.checkAttrs(start.Attr); err != nil {
		return nil, err
	}
	e := &stanza.Element{Name: start.Name}
	height++
	for _, a := range start.Attr {
		if a.Name.Local == "xmlns" && a.Name.Space == "" || a.Name.Space == "xmlns" {
			height++
			continue
		}
		e.Attr = append(e.Attr, a)
	}
	d.height = max(d.height, height)
	var text []byte
	for {
		tok, err := d.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			text = append(text, t...)
		case xml.StartElement:
			c, err := d.element(t, depth+1, height)
			if err != nil {
				return nil, err
			}
			e.Children = append(e.Children, c)
		case xml.EndElement:
			if len(e.Children) == 0 || len(bytes.TrimSpace(text)) != 0 {
				e.Text = string(text)
			}
			return e, nil
		default:
			return nil, RestrictedXML.WithText(fmt.Sprintf("%T", tok))
		}
	}
}

// replayTag returns the start tag for Decoder.replay, made from the stream
// header: the raw name must be the same for </stream:stream> to match it,
// so it returns "" when more than one prefix is bound to the streams
// namespace.
func replayTag(t xml.StartElement) string {
	var (
		b      []byte
		prefix string
		found  int
	)
	for _, a := range t.Attr {
		switch {
		case a.Name.Space == "xmlns":
			b = append(b, " xmlns:"...)
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			b = append(b, ' ')
		default:
			continue
		}
		if a.Value == stanza.NSStream {
			prefix = a.Name.Local
			if a.Name.Space == "" {
				prefix = ""
			}
			found++
		}
		b = append(b, a.Name.Local...)
		b = append(b, `="`...)
		b = stanza.AppendEscaped(b, a.Value, true)
		b = append(b, '"')
	}
	if found != 1 {
		return ""
	}
	if prefix != "" {
		prefix += ":"
	}
	return "<" + prefix + "stream" + string(b) + ">"
}

// shrinkXML replaces encoding/xml's decoder by a new one in the same
// state. It runs at a stanza boundary with nothing buffered, before a read
// that may block.
func (d *Decoder) shrinkXML() {
	d.shrink = false
	if xd := d.replayXML(); xd != nil {
		d.xd = xd
	}
}

// replayXML returns a new encoding/xml decoder in the state the stream
// header left the current one in (same raw name, same namespace
// declarations), fed the replay tag in place of the read buffer, or nil if
// that fails. The buffer, the count and the limit are put back after: the
// replay is not input, and the new decoder cannot read past it (the limit
// stops it before a read).
func (d *Decoder) replayXML() *xml.Decoder {
	if d.replay == "" {
		return nil
	}
	buf, n, limit := d.r.buf, d.r.n, d.r.limit
	d.r.buf, d.r.n, d.r.limit = []byte(d.replay), 0, int64(len(d.replay))
	xd := newXMLDecoder(&d.r)
	tok, err := xd.Token()
	d.r.buf, d.r.n, d.r.limit = buf, n, limit
	if _, ok := tok.(xml.StartElement); !ok || err != nil {
		return nil
	}
	return xd
}

// Buffered reports whether Next has something to work on without reading
// from the underlying reader: bytes of an element, or an error to return.
// It first drops the whitespace at the head of the read buffer (a
// keepalive), as Next would. Between elements, when it returns false, Next
// would read first: a caller that does not want to wait inside Next can
// wait for input elsewhere, then call Fill, and ask again.
func (d *Decoder) Buffered() bool {
	if d.err != nil || !d.header {
		return true
	}
	return d.r.skipSpace() || d.r.err != nil
}

// Fill reads once from the underlying reader into the decoder's buffer
// (nothing when bytes are buffered already) and returns the reader's
// error. It waits as long as that reader does. [ErrWouldBlock] leaves the
// stream going; any other error ends it, and Next returns it from then on
// (as a stream Error where the input broke a rule, as is otherwise).
func (d *Decoder) Fill() error {
	if d.err != nil {
		return d.err
	}
	if len(d.r.buf) > 0 {
		return nil
	}
	if d.r.err != nil {
		return d.r.err
	}
	d.r.tryFill = true
	err := d.r.fill()
	d.r.tryFill = false
	return err
}

// Release drops what the decoder holds between elements, for a stream
// that is about to wait for input: the pooled read buffer and
// encoding/xml's decoder, which the first byte of the next element brings
// back (built again from the stream header; whitespace does not). An idle
// stream then holds a few hundred bytes. It does nothing unless Buffered
// is false, and keeps encoding/xml's decoder when the stream header could
// not be replayed.
func (d *Decoder) Release() {
	if d.err != nil || !d.header || len(d.r.buf) > 0 || d.r.err != nil {
		return
	}
	d.r.release()
	if d.replay != "" {
		d.xd = nil
		d.shrink = false
	}
}

// checkAttrs enforces MaxAttrs and refuses an attribute given twice,
// which XML forbids but encoding/xml lets through: whoever reads the
// re-encoded element could pick the other value (a "to" given twice).
// Names are compared after namespace translation, as XML namespaces wants.
func (d *Decoder) checkAttrs(attrs []xml.Attr) error {
	if len(attrs) > d.lim.MaxAttrs {
		return PolicyViolation.WithText("too many attributes")
	}
	for _, a := range attrs {
		if err := checkName(a.Name); err != nil {
			return err
		}
	}
	for i := 1; i < len(attrs); i++ {
		for j := range i {
			if attrs[i].Name == attrs[j].Name {
				return NotWellFormed.WithText("attribute " + attrs[i].Name.Local + " given twice")
			}
		}
	}
	return nil
}

// checkName refuses a name that XML namespaces does not allow and
// encoding/xml lets through: a colon at either end of the name (<:a>,
// <a:>), or a local part that cannot start a name once the prefix is split
// off (<a:0>, <a:-b>). Written back without its prefix, such a local part
// would not be XML at all.
func checkName(n xml.Name) error {
	if r, _ := utf8.DecodeRuneInString(n.Local); strings.IndexByte(n.Local, ':') >= 0 || !nameStart(r) {
		return NotWellFormed.WithText("invalid name " + n.Local)
	}
	return nil
}

// nameStart reports whether encoding/xml accepts r as the first character
// of a name (the XML 1.0 rules it implements are not in package unicode).
// A rune outside ASCII is rare in XMPP; it is asked of encoding/xml itself,
// so that what we accept always decodes again.
func nameStart(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || r == '_'
	}
	_, err := xml.NewDecoder(strings.NewReader("<" + string(r) + "/>")).Token()
	return err == nil
}

// token returns the next token, with limit and syntax errors mapped to
// stream errors.
func (d *Decoder) token() (xml.Token, error) {
	tok, err := d.xd.Token()
	if err != nil {
		return nil, d.mapErr(err)
	}
	switch t := tok.(type) {
	case xml.Directive:
		return nil, RestrictedXML.WithText("DTDs and entity declarations are not allowed")
	case xml.Comment:
		return nil, RestrictedXML.WithText("comments are not allowed")
	case xml.ProcInst:
		if d.header || t.Target != "xml" {
			return nil, RestrictedXML.WithText("processing instructions are not allowed")
		}
	}
	return tok, nil
}

func (d *Decoder) mapErr(err error) error {
	var (
		synErr *xml.SyntaxError
		se     Error
	)
	// The reader's EOF reaches encoding/xml's caller as io.EOF or as a
	// syntax error "unexpected EOF..."; its other errors unchanged.
	eof := errors.Is(d.r.err, io.EOF) &&
		(errors.Is(err, io.EOF) || errors.As(err, &synErr) && strings.HasPrefix(synErr.Msg, "unexpected EOF"))
	switch {
	case errors.Is(err, errLimit):
		if !d.header {
			return PolicyViolation.WithText("stream header too large")
		}
		return PolicyViolation.WithText(fmt.Sprintf("stanza larger than %d bytes", d.lim.MaxStanza))
	case errors.As(err, &se):
		return se // from refuseCharset
	case eof:
		return io.ErrUnexpectedEOF
	case errors.As(err, &synErr):
		// Bytes that came in before the reader failed are judged first:
		// they are what the peer sent.
		if m := synErr.Msg; strings.HasPrefix(m, "invalid character entity &") &&
			!strings.HasPrefix(m, "invalid character entity &#") && strings.HasSuffix(m, ";") {
			// A well-formed reference to an entity nobody declared.
			return RestrictedXML.WithText(m)
		}
		return NotWellFormed.WithText(synErr.Msg)
	case d.r.err != nil && !errors.Is(d.r.err, io.EOF):
		// The connection failed (deadline, reset): not the peer's XML.
		return d.r.err
	}
	// encoding/xml's own refusals, such as an XML version other than 1.0.
	return NotWellFormed.WithText(strings.TrimPrefix(err.Error(), "xml: "))
}

// procInstParam returns the value of param in an XML declaration.
func procInstParam(s, param string) string {
	i := strings.Index(s, param)
	if i < 0 {
		return ""
	}
	s = strings.TrimSpace(s[i+len(param):])
	if !strings.HasPrefix(s, "=") {
		return ""
	}
	s = strings.TrimSpace(s[1:])
	if len(s) == 0 || (s[0] != '\'' && s[0] != '"') {
		return ""
	}
	q := s[0]
	s = s[1:]
	if j := strings.IndexByte(s, q); j >= 0 {
		return s[:j]
	}
	return ""
}
