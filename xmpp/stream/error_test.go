package stream_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

func TestParseError(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want stream.Error
	}{{
		name: "condition and text",
		in:   `<stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams" xml:lang="en">Replaced by new connection</text></stream:error>`,
		want: stream.Error{Condition: "conflict", Text: "Replaced by new connection", Remote: true},
	}, {
		name: "text first, application condition ignored, first condition wins",
		in:   `<stream:error><text xmlns="urn:ietf:params:xml:ns:xmpp-streams">bye</text><escape-your-data xmlns="urn:app"/><system-shutdown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`,
		want: stream.Error{Condition: "system-shutdown", Text: "bye", Remote: true},
	}, {
		name: "no condition",
		in:   `<stream:error/>`,
		want: stream.Error{Condition: "undefined-condition", Remote: true},
	}, {
		name: "condition in the wrong namespace",
		in:   `<stream:error><conflict/></stream:error>`,
		want: stream.Error{Condition: "undefined-condition", Remote: true},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stream.ParseError(decodeOne(t, tt.in)); got != tt.want {
				t.Errorf("ParseError = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestErrorElement(t *testing.T) {
	tests := []struct {
		err  stream.Error
		want string
	}{
		{stream.Conflict, `<stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`},
		{stream.PolicyViolation.WithText("a < b"), `<stream:error><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams">a &lt; b</text></stream:error>`},
		{stream.Error{}, `<stream:error><undefined-condition xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`},
	}
	for _, tt := range tests {
		el := tt.err.Element()
		if got := el.String(); got != tt.want {
			t.Errorf("Element():\n got %s\nwant %s", got, tt.want)
		}
		// What we send, the peer parses back (as a remote error).
		back := stream.ParseError(decodeOne(t, el.String()))
		want := tt.err
		want.Remote = true
		if want.Condition == "" {
			want.Condition = "undefined-condition"
		}
		if back != want {
			t.Errorf("ParseError(Element()) = %#v, want %#v", back, want)
		}
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  stream.Error
		want string
	}{
		{stream.PolicyViolation, "stream: policy-violation"},
		{stream.PolicyViolation.WithText("too big"), "stream: policy-violation: too big"},
		{stream.Error{Condition: "conflict", Text: "replaced", Remote: true}, "stream: peer sent conflict: replaced"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestErrorIs(t *testing.T) {
	remote := stream.Error{Condition: "conflict", Text: "replaced", Remote: true}
	wrapped := fmt.Errorf("xmpp: read: %w", remote)
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"same", stream.Conflict, stream.Conflict, true},
		{"with text", stream.PolicyViolation.WithText("x"), stream.PolicyViolation, true},
		{"remote matches local", remote, stream.Conflict, true},
		{"wrapped", wrapped, stream.Conflict, true},
		{"other condition", wrapped, stream.PolicyViolation, false},
		{"wildcard", stream.RestrictedXML, stream.Error{}, true},
		{"wildcard, wrapped", wrapped, stream.Error{}, true},
		{"wildcard, not a stream error", io.ErrUnexpectedEOF, stream.Error{}, false},
		{"ErrClosed is not a stream error", stream.ErrClosed, stream.Error{}, false},
		{"stanza conflict is not a stream conflict", stanza.Conflict, stream.Conflict, false},
		{"stream conflict is not a stanza conflict", stream.Conflict, stanza.Conflict, false},
		{"stream error is no stanza error", stream.Conflict, stanza.Error{}, false},
	}
	for _, tt := range tests {
		if got := errors.Is(tt.err, tt.target); got != tt.want {
			t.Errorf("%s: errors.Is(%v, %v) = %v, want %v", tt.name, tt.err, tt.target, got, tt.want)
		}
	}
	var se stream.Error
	if !errors.As(wrapped, &se) || !se.Remote || se.Text != "replaced" {
		t.Errorf("errors.As: %#v", se)
	}
}
