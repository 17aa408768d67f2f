package stanza_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/xpush/xpush/xmpp/stanza"
)

func TestIQAndReplies(t *testing.T) {
	payload := stanza.New(nsNotify, "notification").AddText("id", "ffe31f20")
	iq := stanza.IQ(stanza.TypeSet, "88-0", "sam@127.0.0.1/AndroidpnClient", payload)
	if got, want := iq.String(), `<iq type="set" id="88-0" to="sam@127.0.0.1/AndroidpnClient"><notification xmlns="androidpn:iq:notification"><id>ffe31f20</id></notification></iq>`; got != want {
		t.Errorf("IQ:\n got %s\nwant %s", got, want)
	}
	if got := stanza.IQ(stanza.TypeGet, "1", "", nil).String(); got != `<iq type="get" id="1"/>` {
		t.Errorf("IQ without payload or to: %s", got)
	}

	req := stanza.New(stanza.NSClient, "iq", "type", "set", "id", "88-0", "from", "sam@127.0.0.1/AndroidpnClient")
	if got, want := stanza.Result(req).String(), `<iq type="result" id="88-0" to="sam@127.0.0.1/AndroidpnClient"/>`; got != want {
		t.Errorf("Result:\n got %s\nwant %s", got, want)
	}
	reply := stanza.ErrorReply(req, stanza.NotAuthorized)
	if got, want := reply.String(), `<iq type="error" id="88-0" to="sam@127.0.0.1/AndroidpnClient"><error type="auth" code="401"><not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`; got != want {
		t.Errorf("ErrorReply:\n got %s\nwant %s", got, want)
	}

	// In a component stream the <error/> child is in the stanza's
	// namespace too, not jabber:client.
	creq := stanza.New(stanza.NSComponent, "message", "id", "m1", "from", "a@b")
	creply := stanza.ErrorReply(creq, stanza.ServiceUnavailable.WithText("gone"))
	if got, want := string(creply.AppendXML(nil, stanza.NSComponent)), `<message type="error" id="m1" to="a@b"><error type="cancel" code="503"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">gone</text></error></message>`; got != want {
		t.Errorf("ErrorReply in jabber:component:accept:\n got %s\nwant %s", got, want)
	}
}

func TestIsStanza(t *testing.T) {
	tests := []struct {
		space, local string
		want         bool
	}{
		{stanza.NSClient, "iq", true},
		{stanza.NSClient, "message", true},
		{stanza.NSServer, "presence", true},
		{stanza.NSComponent, "message", true},
		{stanza.NSStream, "features", false},
		{stanza.NSClient, "error", false},
		{"urn:other", "iq", false},
		{"", "iq", false},
	}
	for _, tt := range tests {
		if got := stanza.IsStanza(stanza.New(tt.space, tt.local)); got != tt.want {
			t.Errorf("IsStanza({%s}%s) = %v", tt.space, tt.local, got)
		}
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  stanza.Error
		want string
	}{
		{stanza.Conflict, "stanza error: conflict (cancel)"},
		{stanza.NotAuthorized.WithText("who?"), "stanza error: not-authorized (auth): who?"},
		{stanza.Error{Condition: "gone"}, "stanza error: gone"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if stanza.Conflict.WithText("x").Text != "x" || stanza.Conflict.Text != "" {
		t.Error("WithText must return a copy")
	}
}

func TestErrorElement(t *testing.T) {
	tests := []struct {
		err  stanza.Error
		want string
	}{
		{stanza.Conflict, `<error type="cancel" code="409"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>`},
		{stanza.Error{Type: stanza.ErrorWait}, `<error type="wait"><undefined-condition xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>`},
		{stanza.BadRequest.WithText("a<b"), `<error type="modify" code="400"><bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">a&lt;b</text></error>`},
	}
	for _, tt := range tests {
		if got := tt.err.Element().String(); got != tt.want {
			t.Errorf("Element():\n got %s\nwant %s", got, tt.want)
		}
	}
}

func TestParseError(t *testing.T) {
	tests := []struct {
		name string
		xml  string
		want stanza.Error
		ok   bool
	}{{
		name: "RFC 6120",
		xml:  `<iq type="error" id="1"><error type="cancel"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`,
		want: stanza.Error{Type: "cancel", Condition: "conflict"},
		ok:   true,
	}, {
		name: "the paper's 401 with code and condition",
		xml:  `<iq type="error" id="1"><query xmlns="jabber:iq:auth"/><error code="401" type="auth"><not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`,
		want: stanza.NotAuthorized,
		ok:   true,
	}, {
		name: "text before the condition, foreign elements ignored",
		xml:  `<message type="error"><error type="modify"><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">bad &amp; wrong</text><x xmlns="urn:app"/><bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><conflict xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`,
		want: stanza.Error{Type: "modify", Condition: "bad-request", Text: "bad & wrong"},
		ok:   true,
	}, {
		name: "legacy 401 only",
		xml:  `<iq type="error"><error code="401">Unauthorized</error></iq>`,
		want: stanza.Error{Type: "auth", Condition: "not-authorized", Code: 401},
		ok:   true,
	}, {
		name: "legacy code keeps the type it came with",
		xml:  `<iq type="error"><error code="409" type="modify"/></iq>`,
		want: stanza.Error{Type: "modify", Condition: "conflict", Code: 409},
		ok:   true,
	}, {
		name: "no code, no condition",
		xml:  `<iq type="error"><error/></iq>`,
		want: stanza.Error{Type: "cancel", Condition: "undefined-condition"},
		ok:   true,
	}, {
		name: "unparsable code",
		xml:  `<iq type="error"><error code="x401" type="auth"/></iq>`,
		want: stanza.Error{Type: "auth", Condition: "undefined-condition"},
		ok:   true,
	}, {
		name: "not an error stanza",
		xml:  `<iq type="result"><error type="cancel"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`,
	}, {
		name: "error type without an error element",
		xml:  `<iq type="error"/>`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := stanza.ParseError(decodeXML(t, tt.xml, stanza.NSClient))
			if ok != tt.ok || got != tt.want {
				t.Errorf("ParseError = %#v, %v; want %#v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestParseErrorLegacy checks the XEP-0086 table of legacy codes.
func TestParseErrorLegacy(t *testing.T) {
	tests := []struct {
		code      int
		condition string
		typ       string
	}{
		{302, "redirect", "modify"},
		{400, "bad-request", "modify"},
		{401, "not-authorized", "auth"},
		{402, "payment-required", "auth"},
		{403, "forbidden", "auth"},
		{404, "item-not-found", "cancel"},
		{405, "not-allowed", "cancel"},
		{406, "not-acceptable", "modify"},
		{407, "registration-required", "auth"},
		{408, "remote-server-timeout", "wait"},
		{409, "conflict", "cancel"},
		{500, "internal-server-error", "wait"},
		{501, "feature-not-implemented", "cancel"},
		{502, "service-unavailable", "wait"},
		{503, "service-unavailable", "cancel"},
		{504, "remote-server-timeout", "wait"},
		{510, "service-unavailable", "cancel"},
		{999, "undefined-condition", "cancel"},
	}
	for _, tt := range tests {
		st := decodeXML(t, fmt.Sprintf(`<message type="error"><error code="%d"/></message>`, tt.code), stanza.NSClient)
		got, ok := stanza.ParseError(st)
		want := stanza.Error{Type: tt.typ, Condition: tt.condition, Code: tt.code}
		if !ok || got != want {
			t.Errorf("code %d: got %#v, want %#v", tt.code, got, want)
		}
	}
}

// TestErrorRoundTrip checks that each predefined error survives
// ErrorReply, encoding, decoding and ParseError.
func TestErrorRoundTrip(t *testing.T) {
	all := []stanza.Error{
		stanza.BadRequest, stanza.Conflict, stanza.FeatureNotImplemented, stanza.Forbidden,
		stanza.InternalServerError, stanza.ItemNotFound, stanza.NotAcceptable, stanza.NotAllowed,
		stanza.NotAuthorized, stanza.PolicyViolation, stanza.RecipientUnavailable,
		stanza.RegistrationRequired, stanza.ResourceConstraint, stanza.ServiceUnavailable,
		stanza.UndefinedCondition, stanza.Conflict.WithText("resource in use"),
	}
	req := stanza.New(stanza.NSClient, "iq", "type", "set", "id", "1", "from", "a@b/c")
	for _, e := range all {
		back := decodeXML(t, stanza.ErrorReply(req, e).String(), stanza.NSClient)
		got, ok := stanza.ParseError(back)
		if !ok || got != e {
			t.Errorf("%v: round trip gave %#v", e, got)
		}
		if !errors.Is(got, e) {
			t.Errorf("%v: errors.Is after the round trip is false", e)
		}
	}
}

func TestErrorIs(t *testing.T) {
	wrapped := fmt.Errorf("xmpp: iq-auth: %w", stanza.Error{Type: stanza.ErrorCancel, Condition: "not-authorized", Code: 401, Text: "no"})
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"same value", stanza.Conflict, stanza.Conflict, true},
		{"with text", stanza.Conflict.WithText("x"), stanza.Conflict, true},
		{"same condition, other type", stanza.Error{Type: stanza.ErrorModify, Condition: "conflict"}, stanza.Conflict, true},
		{"legacy 502 is service-unavailable", stanza.Error{Type: stanza.ErrorWait, Condition: "service-unavailable", Code: 502}, stanza.ServiceUnavailable, true},
		{"other condition", stanza.Conflict, stanza.Forbidden, false},
		{"other condition, same type", stanza.NotAuthorized, stanza.Forbidden, false},
		{"wrapped", wrapped, stanza.NotAuthorized, true},
		{"wrapped, other condition", wrapped, stanza.Conflict, false},
		{"condition-only target", stanza.Conflict, stanza.Error{Condition: "conflict"}, true},
		{"type-only target", stanza.InternalServerError, stanza.Error{Type: stanza.ErrorWait}, true},
		{"type-only target, other type", stanza.Conflict, stanza.Error{Type: stanza.ErrorWait}, false},
		{"type-only target, wrapped", wrapped, stanza.Error{Type: stanza.ErrorCancel}, true},
		{"empty target matches any stanza error", stanza.Conflict, stanza.Error{}, true},
		{"empty target, wrapped", wrapped, stanza.Error{}, true},
		{"not a stanza error", io.EOF, stanza.Error{}, false},
		{"pointer target is another type", stanza.Conflict, &stanza.Conflict, false},
	}
	for _, tt := range tests {
		if got := errors.Is(tt.err, tt.target); got != tt.want {
			t.Errorf("%s: errors.Is(%v, %v) = %v, want %v", tt.name, tt.err, tt.target, got, tt.want)
		}
	}
	var se stanza.Error
	if !errors.As(wrapped, &se) || se.Code != 401 || se.Text != "no" {
		t.Errorf("errors.As: %#v", se)
	}
}
