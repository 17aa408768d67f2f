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
//   - anything that is not well-formed (not-well-formed), including what
//     encoding/xml alone lets through: an attribute given twice, names
//     that XML namespaces forbids (<a:0/>, <:a/>),
//   - an XML declaration naming an encoding other than UTF-8
//     (unsupported-encoding).
//
// Every error the Decoder returns for bad input is an [Error] (a value, not
// a pointer: match it with errors.Is or errors.As into a stream.Error)
// carrying the stream error condition to send before closing the stream.
// Whitespace between stanzas (the keepalive of the paper) is skipped, and
// not counted against MaxStanza.
//
// The Decoder reads through a 64-byte inline buffer and borrows a 4 KiB one
// from a pool only while bytes are waiting; after a large stanza it replaces
// encoding/xml's decoder, which keeps buffers as large as the largest token
// it has seen. An idle stream waiting in Next holds about 1.5 KiB of heap,
// whatever it has read (BenchmarkIdleDecoderHeap).
//
// A server with many idle streams can wait for input outside the Decoder,
// in a goroutine frame of its own: [Decoder.Buffered] says whether Next
// has bytes to work on, [Decoder.Release] then drops encoding/xml's decoder
// and the read buffer (an idle stream keeps about 400 bytes; the next
// element's first byte brings the decoder back from the stream header), and
// [Decoder.Fill] reads once what arrived. A connection may answer a read in
// Fill with [ErrWouldBlock] rather than wait: that does not end the stream.
//
// [WriteHeader] and [Close] write the stream's opening and closing tags;
// stanzas are written with [stanza.Element.AppendXML].
package stream
