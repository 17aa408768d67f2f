package stanza

import (
	"encoding/xml"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Namespaces used across xpush.
const (
	NSClient    = "jabber:client"
	NSServer    = "jabber:server"
	NSComponent = "jabber:component:accept"
	NSStream    = "http://etherx.jabber.org/streams"
	NSStanzas   = "urn:ietf:params:xml:ns:xmpp-stanzas"
	NSXML       = "http://www.w3.org/XML/1998/namespace"
)

// Element is one XML element with its namespace resolved. Name.Space is the
// namespace URI, never a prefix. Attr never holds xmlns declarations: the
// encoder derives them from Name.Space.
type Element struct {
	Name     xml.Name
	Attr     []xml.Attr
	Children []*Element
	// Text is the character data directly inside the element, concatenated.
	Text string
}

// New returns an element named local in namespace space with the given
// attributes, given as name, value pairs.
func New(space, local string, attrs ...string) *Element {
	e := &Element{Name: xml.Name{Space: space, Local: local}}
	for i := 0; i+1 < len(attrs); i += 2 {
		e.SetAttr(attrs[i], attrs[i+1])
	}
	return e
}

// Is reports whether the element has the given namespace and local name.
func (e *Element) Is(space, local string) bool {
	return e != nil && e.Name.Space == space && e.Name.Local == local
}

// AttrValue returns the value of the attribute with the given local name and
// no namespace, or "" when it is absent.
func (e *Element) AttrValue(local string) string {
	if e == nil {
		return ""
	}
	for _, a := range e.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// Lang returns the element's xml:lang attribute.
func (e *Element) Lang() string {
	if e == nil {
		return ""
	}
	for _, a := range e.Attr {
		if a.Name.Local == "lang" && (a.Name.Space == NSXML || a.Name.Space == "xml") {
			return a.Value
		}
	}
	return ""
}

// SetAttr sets (or, with an empty value, removes) an attribute without a
// namespace. It returns e so that calls can be chained.
func (e *Element) SetAttr(local, value string) *Element {
	for i, a := range e.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			if value == "" {
				e.Attr = append(e.Attr[:i], e.Attr[i+1:]...)
			} else {
				e.Attr[i].Value = value
			}
			return e
		}
	}
	if value != "" {
		e.Attr = append(e.Attr, xml.Attr{Name: xml.Name{Local: local}, Value: value})
	}
	return e
}

// Child returns the first child with the given namespace and local name, or
// nil. An empty space matches any namespace.
func (e *Element) Child(space, local string) *Element {
	if e == nil {
		return nil
	}
	for _, c := range e.Children {
		if c.Name.Local == local && (space == "" || c.Name.Space == space) {
			return c
		}
	}
	return nil
}

// ChildText returns the trimmed text of the first matching child, or "".
func (e *Element) ChildText(space, local string) string {
	if c := e.Child(space, local); c != nil {
		return strings.TrimSpace(c.Text)
	}
	return ""
}

// First returns the first child element, or nil.
func (e *Element) First() *Element {
	if e == nil || len(e.Children) == 0 {
		return nil
	}
	return e.Children[0]
}

// Add appends children to e and returns e.
func (e *Element) Add(children ...*Element) *Element {
	for _, c := range children {
		if c != nil {
			e.Children = append(e.Children, c)
		}
	}
	return e
}

// AddText appends a child element holding only text, in e's namespace
// unless it is empty. Nothing is added when text is empty. It returns e.
func (e *Element) AddText(local, text string) *Element {
	if text == "" {
		return e
	}
	c := New(e.Name.Space, local)
	c.Text = text
	e.Children = append(e.Children, c)
	return e
}

// String returns the element encoded as XML in the jabber:client namespace,
// for logs and tests.
func (e *Element) String() string {
	return string(e.AppendXML(nil, NSClient))
}

// AppendXML appends the element's XML encoding to b. parentNS is the default
// namespace in scope where the element is written (the stream's content
// namespace for a top-level stanza); an xmlns declaration is written only
// where the element's namespace differs from it. Elements in the streams
// namespace are written with the "stream:" prefix that every stream header
// declares. An attribute in a namespace other than xml: gets a prefix
// declared on its element. Names are written as they are: they must be XML
// names without a colon, as the stream decoder returns them.
func (e *Element) AppendXML(b []byte, parentNS string) []byte {
	name := e.Name.Local
	ns := parentNS
	b = append(b, '<')
	if e.Name.Space == NSStream {
		name = "stream:" + name
		b = append(b, name...)
	} else {
		b = append(b, name...)
		if e.Name.Space != parentNS {
			ns = e.Name.Space
			b = append(b, ` xmlns="`...)
			b = appendEscaped(b, ns, true)
			b = append(b, '"')
		}
	}
	for i, a := range e.Attr {
		if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
			continue // namespace declarations are derived, never copied
		}
		b = append(b, ' ')
		switch a.Name.Space {
		case "":
		case NSXML, "xml":
			b = append(b, "xml:"...)
		default:
			// A namespaced attribute keeps its namespace through a prefix
			// declared on this element, named after the first attribute
			// in that namespace.
			p := i
			for j := range i {
				if e.Attr[j].Name.Space == a.Name.Space {
					p = j
					break
				}
			}
			if p == i {
				b = append(b, "xmlns:ns"...)
				b = strconv.AppendInt(b, int64(p), 10)
				b = append(b, `="`...)
				b = appendEscaped(b, a.Name.Space, true)
				b = append(b, `" `...)
			}
			b = append(b, "ns"...)
			b = strconv.AppendInt(b, int64(p), 10)
			b = append(b, ':')
		}
		b = append(b, a.Name.Local...)
		b = append(b, `="`...)
		b = appendEscaped(b, a.Value, true)
		b = append(b, '"')
	}
	if len(e.Children) == 0 && e.Text == "" {
		return append(b, "/>"...)
	}
	b = append(b, '>')
	b = appendEscaped(b, e.Text, false)
	for _, c := range e.Children {
		b = c.AppendXML(b, ns)
	}
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, '>')
}

// AppendEscaped appends s escaped for use as XML character data, or as an
// attribute value between double quotes when attr is true.
func AppendEscaped(b []byte, s string, attr bool) []byte { return appendEscaped(b, s, attr) }

// appendEscaped appends s with the XML special characters escaped. Inside an
// attribute value, quotes and whitespace other than a space are escaped too,
// so that the value survives attribute-value normalisation. Characters that
// XML 1.0 does not allow (most C0 controls, invalid UTF-8, U+FFFE, U+FFFF)
// are replaced by U+FFFD so that the output is always well-formed.
func appendEscaped(b []byte, s string, attr bool) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		var esc string
		width := 1
		switch {
		case c == '<':
			esc = "&lt;"
		case c == '>':
			esc = "&gt;"
		case c == '&':
			esc = "&amp;"
		case c == '"' && attr:
			esc = "&quot;"
		case c == '\'' && attr:
			esc = "&apos;"
		case c == '\n' && attr:
			esc = "&#xA;"
		case c == '\r':
			esc = "&#xD;"
		case c == '\t' && attr:
			esc = "&#x9;"
		case c < 0x20 && c != '\n' && c != '\t':
			esc = "\uFFFD"
		case c >= utf8.RuneSelf:
			r, w := utf8.DecodeRuneInString(s[i:])
			width = w
			if (r == utf8.RuneError && w == 1) || r == 0xFFFE || r == 0xFFFF {
				esc = "\uFFFD"
			}
		}
		if esc != "" {
			b = append(b, s[last:i]...)
			b = append(b, esc...)
			last = i + width
		}
		i += width
	}
	return append(b, s[last:]...)
}
