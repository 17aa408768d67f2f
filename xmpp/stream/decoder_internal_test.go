package stream

import (
	"strings"
	"testing"
)

// chunks returns one string per read.
type chunks []string

func (c *chunks) Read(p []byte) (int, error) {
	n := copy(p, (*c)[0])
	(*c)[0] = (*c)[0][n:]
	if (*c)[0] == "" {
		*c = (*c)[1:]
	}
	return n, nil
}

func TestReplayTag(t *testing.T) {
	tests := []struct{ header, want string }{
		{
			`<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="a" xml:lang="en">`,
			`<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">`,
		},
		{
			`<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' xmlns:q='a"&lt;'>`,
			`<s:stream xmlns:s="http://etherx.jabber.org/streams" xmlns:db="jabber:server:dialback" xmlns:q="a&quot;&lt;">`,
		},
		{`<stream xmlns="http://etherx.jabber.org/streams">`, `<stream xmlns="http://etherx.jabber.org/streams">`},
		{`<s:stream xmlns:s="http://etherx.jabber.org/streams" xmlns:t="http://etherx.jabber.org/streams">`, ``},
	}
	for _, tt := range tests {
		d := NewDecoder(strings.NewReader(tt.header), Limits{})
		if _, err := d.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		if d.replay != tt.want {
			t.Errorf("replay of %s:\n got %s\nwant %s", tt.header, d.replay, tt.want)
		}
	}
}

// TestShrink checks when encoding/xml's decoder is replaced: after a large
// or deep stanza, once the buffer is empty, and never in the middle of
// buffered input.
func TestShrink(t *testing.T) {
	hdr := `<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">`
	large := `<message>` + strings.Repeat("a", shrinkBytes) + `</message>`
	deep := strings.Repeat(`<a xmlns="urn:a" xmlns:b="urn:b">`, 25) + strings.Repeat(`</a>`, 25)
	c := chunks{hdr, `<presence/>`, large + `<presence/>`, `<presence/>`, deep, `<presence/>`}
	d := NewDecoder(&c, Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name     string
		replaced bool // before reading this stanza
	}{
		{"small", false},
		{"large", false},
		{"small after large, buffered", false},
		{"small after large, new read", true},
		{"deep", false},
		{"small after deep", true},
	}
	for _, s := range steps {
		xd := d.xd
		if _, err := d.Next(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := d.xd != xd; got != s.replaced {
			t.Errorf("%s: decoder replaced %v, want %v", s.name, got, s.replaced)
		}
	}
}
