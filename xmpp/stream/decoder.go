package stream

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

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
)

// Limits bound what a Decoder accepts. Zero fields take the defaults.
type Limits struct {
	MaxStanza int // bytes of one top-level element, whitespace before it included
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
	xd.CharsetReader = nil
	return xd
}

// BeforeRead sets a function that runs before each read of the underlying
// reader, typically to set a read deadline. It must not be changed while a
// read is in progress.
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
	d.xd = newXMLDecoder(&d.r)
}

// Offset returns the number of bytes read so far.
func (d *Decoder) Offset() int64 { return d.r.n }

// ReadHeader reads the XML declaration (if any) and the stream header.
func (d *Decoder) ReadHeader() (Header, error) {
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
			return h, nil
		default:
			return Header{}, NotWellFormed.WithText(fmt.Sprintf("unexpected %T before the stream header", tok))
		}
	}
}

// Next reads the next top-level element of the stream, skipping whitespace.
// It returns ErrClosed when the peer closes the stream, an *Error for input
// that breaks the protocol or a limit, and the reader's error otherwise.
func (d *Decoder) Next() (*stanza.Element, error) {
	if !d.header {
		return nil, errors.New("stream: Next before ReadHeader")
	}
	d.r.limit = d.r.n + int64(d.lim.MaxStanza)
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
			return d.element(t, 1)
		default:
			return nil, RestrictedXML.WithText(fmt.Sprintf("%T", tok))
		}
	}
}

// element reads the rest of the element that start opened, at depth.
func (d *Decoder) element(start xml.StartElement, depth int) (*stanza.Element, error) {
	if depth > d.lim.MaxDepth {
		return nil, PolicyViolation.WithText("elements nested too deep")
	}
	if len(start.Attr) > d.lim.MaxAttrs {
		return nil, PolicyViolation.WithText("too many attributes")
	}
	e := &stanza.Element{Name: start.Name}
	for _, a := range start.Attr {
		if a.Name.Local == "xmlns" && a.Name.Space == "" || a.Name.Space == "xmlns" {
			continue
		}
		e.Attr = append(e.Attr, a)
	}
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
			c, err := d.element(t, depth+1)
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
	var synErr *xml.SyntaxError
	switch {
	case errors.Is(err, errLimit) || errors.Is(d.r.err, errLimit):
		if !d.header {
			return PolicyViolation.WithText("stream header too large")
		}
		return PolicyViolation.WithText(fmt.Sprintf("stanza larger than %d bytes", d.lim.MaxStanza))
	case d.r.err != nil && !errors.Is(d.r.err, io.EOF):
		// The connection failed (deadline, reset): not the peer's XML.
		return d.r.err
	case errors.Is(err, io.EOF) || errors.Is(d.r.err, io.EOF):
		return io.ErrUnexpectedEOF
	case errors.As(err, &synErr):
		if strings.Contains(synErr.Msg, "entity") {
			return RestrictedXML.WithText(synErr.Msg)
		}
		return NotWellFormed.WithText(synErr.Msg)
	}
	return err
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
