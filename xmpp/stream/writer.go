package stream

import (
	"fmt"
	"io"

	"github.com/xpush/xpush/xmpp/stanza"
)

// AppendHeader appends a stream header with an XML declaration to b.
// Empty fields are left out; Version defaults to "1.0" and NS to
// jabber:client.
func AppendHeader(b []byte, h Header) []byte {
	if h.Version == "" {
		h.Version = "1.0"
	}
	if h.NS == "" {
		h.NS = stanza.NSClient
	}
	b = append(b, "<?xml version='1.0'?><stream:stream"...)
	attr := func(name, value string) {
		if value == "" {
			return
		}
		b = append(b, ' ')
		b = append(b, name...)
		b = append(b, `="`...)
		b = stanza.AppendEscaped(b, value, true)
		b = append(b, '"')
	}
	attr("from", h.From)
	attr("to", h.To)
	attr("id", h.ID)
	attr("version", h.Version)
	attr("xml:lang", h.Lang)
	attr("xmlns", h.NS)
	attr("xmlns:stream", stanza.NSStream)
	return append(b, '>')
}

// WriteHeader writes a stream header to w.
func WriteHeader(w io.Writer, h Header) error {
	if _, err := w.Write(AppendHeader(nil, h)); err != nil {
		return fmt.Errorf("stream: write header: %w", err)
	}
	return nil
}

// CloseTag is the stream's closing tag.
const CloseTag = "</stream:stream>"

// Close writes the stream's closing tag to w. It does not close w.
func Close(w io.Writer) error {
	if _, err := io.WriteString(w, CloseTag); err != nil {
		return fmt.Errorf("stream: write close: %w", err)
	}
	return nil
}
