package xmpp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/xpush/xpush/xmpp/stream"
)

// Errors a caller may branch on.
var (
	// ErrAuth means the server refused the credentials: a wrong password,
	// or an unknown account with registration off. It is permanent.
	ErrAuth = errors.New("xmpp: the server refused the user name or password")
	// ErrTLSRequired means the server is not on loopback and offers no
	// TLS, and InsecurePlain is off. It is permanent.
	ErrTLSRequired = errors.New("xmpp: the server offers no TLS (set InsecurePlain to connect in the clear)")
	// ErrNoMechanism means no authentication method both sides accept.
	ErrNoMechanism = errors.New("xmpp: no usable authentication method")
	// ErrNotConnected is returned by Send while no session is up.
	ErrNotConnected = errors.New("xmpp: not connected")
	// ErrPingTimeout means the server did not answer a ping in time.
	ErrPingTimeout = errors.New("xmpp: the server stopped answering (ping timeout)")
)

// RegistrationError is returned when in-band registration fails or the
// server wants more than a user name and password.
type RegistrationError struct {
	// Fields the server requires that the client cannot fill.
	Fields []string
	// Condition is the stanza error condition, if the server sent one.
	Condition string
	Text      string
}

func (e *RegistrationError) Error() string {
	switch {
	case len(e.Fields) > 0:
		return "xmpp: register: the server wants more than a user name and password: " + strings.Join(e.Fields, ", ")
	case e.Condition == "conflict":
		return "xmpp: register: the account exists already"
	case e.Condition == "not-allowed" || e.Condition == "forbidden" || e.Condition == "service-unavailable" || e.Condition == "feature-not-implemented":
		return "xmpp: register: the server does not allow in-band registration" + suffix(e.Text)
	case e.Condition != "":
		return "xmpp: register: " + e.Condition + suffix(e.Text)
	}
	return "xmpp: register: " + e.Text
}

func suffix(text string) string {
	if text == "" {
		return ""
	}
	return " (" + text + ")"
}

// IsPermanent reports whether err will not go away by reconnecting: the
// client stops retrying until Reconnect is called.
func IsPermanent(err error) bool {
	var re *RegistrationError
	switch {
	case errors.Is(err, ErrAuth), errors.Is(err, ErrTLSRequired), errors.Is(err, ErrNoMechanism),
		errors.As(err, &re):
		return true
	case errors.Is(err, stream.Conflict):
		// Another session took our resource over; reconnecting would
		// throw it out in turn.
		return true
	}
	return false
}

// Explain returns a short sentence for a user saying why the client is
// offline.
func Explain(err error) string {
	var (
		se   stream.Error
		re   *RegistrationError
		cert *tls.CertificateVerificationError
		ua   x509.UnknownAuthorityError
		hn   x509.HostnameError
	)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrAuth):
		return "Wrong user name or password."
	case errors.As(err, &re):
		return strings.TrimPrefix(re.Error(), "xmpp: register: ")
	case errors.As(err, &ua), errors.As(err, &hn), errors.As(err, &cert):
		return "The server's certificate was rejected."
	case errors.Is(err, ErrTLSRequired):
		return "The server offers no encryption."
	case errors.Is(err, ErrPingTimeout):
		return "The server stopped answering."
	case errors.Is(err, stream.Conflict):
		return "Another device logged in with the same name."
	case errors.As(err, &se):
		return fmt.Sprintf("The server closed the connection (%s).", se.Condition)
	case strings.Contains(err.Error(), "connection refused"), strings.Contains(err.Error(), "no such host"),
		strings.Contains(err.Error(), "i/o timeout"), strings.Contains(err.Error(), "network is unreachable"):
		return "The server cannot be reached."
	}
	return "The connection failed."
}
