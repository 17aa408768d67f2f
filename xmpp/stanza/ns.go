package stanza

// Namespaces of stream negotiation and of the features both the client and
// the server speak.
const (
	NSTLS             = "urn:ietf:params:xml:ns:xmpp-tls"
	NSSASL            = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSBind            = "urn:ietf:params:xml:ns:xmpp-bind"
	NSSession         = "urn:ietf:params:xml:ns:xmpp-session"
	NSFeatureIQAuth   = "http://jabber.org/features/iq-auth"
	NSFeatureRegister = "http://jabber.org/features/iq-register"
	NSSASLCB          = "urn:xmpp:sasl-cb:0" // XEP-0440
	NSRoster          = "jabber:iq:roster"
	NSDiscoInfo       = "http://jabber.org/protocol/disco#info"
)
