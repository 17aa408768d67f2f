// Package stanza holds the XML element tree that the xpush codec reads and
// writes, the three XMPP stanza kinds (iq, message, presence) built on it,
// and stanza errors (RFC 6120 §8.3) as comparable Go errors.
//
// An [Element] is a small, namespace-resolved tree: it keeps attributes,
// child elements and the character data directly inside it. That is all
// XMPP needs (it has no mixed content), and it lets every feature look a
// payload up by namespace and name without reflection-based unmarshalling.
//
// Nothing here does I/O; package stream decodes elements from a connection
// with limits, and [Element.AppendXML] encodes them.
package stanza
