// Package stream reads and writes XMPP XML streams (RFC 6120 §4) with hard
// limits, and maps stream errors to Go errors.
//
// A [Decoder] turns the bytes of one direction of a stream into a stream
// header followed by top-level elements ([stanza.Element]). It is built on
// encoding/xml and refuses, before any allocation grows with the input:
//   - a stanza larger than Limits.MaxStanza bytes (policy-violation),
//   - elements nested deeper than Limits.MaxDepth, or with more than
//     Limits.MaxAttrs attributes (policy-violation),
//   - DTDs, entity declarations, comments and processing instructions other
//     than the XML declaration (restricted-xml), so an XML bomb never
//     expands,
//   - anything that is not well-formed (not-well-formed).
//
// Every error the Decoder returns for bad input is an [*Error] carrying the
// stream error condition to send before closing the stream. Whitespace
// between stanzas (the keepalive of the paper) is skipped.
//
// The Decoder reads through a small buffer that it borrows from a pool only
// while bytes are waiting, so an idle stream holds a few hundred bytes of
// heap, not kilobytes.
//
// [WriteHeader] and [Close] write the stream's opening and closing tags;
// stanzas are written with [stanza.Element.AppendXML].
package stream
