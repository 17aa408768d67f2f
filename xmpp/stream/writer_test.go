package stream_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

func TestAppendHeader(t *testing.T) {
	tests := []struct {
		h    stream.Header
		want string
	}{{
		h:    stream.Header{},
		want: `<?xml version='1.0'?><stream:stream version="1.0" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">`,
	}, {
		h:    stream.Header{From: "example.org", To: "sam@example.org", ID: `a"b&c<`, Version: "0.9", Lang: "en", NS: stanza.NSComponent},
		want: `<?xml version='1.0'?><stream:stream from="example.org" to="sam@example.org" id="a&quot;b&amp;c&lt;" version="0.9" xml:lang="en" xmlns="jabber:component:accept" xmlns:stream="http://etherx.jabber.org/streams">`,
	}}
	for _, tt := range tests {
		got := string(stream.AppendHeader([]byte("x"), tt.h))
		if got != "x"+tt.want {
			t.Errorf("AppendHeader(%+v):\n got %s\nwant x%s", tt.h, got, tt.want)
		}
		// Our header reads back as we wrote it.
		h, err := stream.NewDecoder(strings.NewReader(tt.want), stream.Limits{}).ReadHeader()
		want := tt.h
		if want.Version == "" {
			want.Version = "1.0"
		}
		if want.NS == "" {
			want.NS = stanza.NSClient
		}
		if err != nil || h != want {
			t.Errorf("read back: %+v, %v; want %+v", h, err, want)
		}
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestWriteHeaderAndClose(t *testing.T) {
	var b bytes.Buffer
	h := stream.Header{To: "example.org", Lang: "en"}
	if err := stream.WriteHeader(&b, h); err != nil {
		t.Fatal(err)
	}
	b.WriteString(stanza.New(stanza.NSClient, "presence").String())
	if err := stream.Close(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), string(stream.AppendHeader(nil, h))) || !strings.HasSuffix(b.String(), "<presence/></stream:stream>") {
		t.Errorf("wrote %s", b.String())
	}
	d := openReader(t, &b, stream.Limits{})
	if els, err := readAll(d); len(els) != 1 || !errors.Is(err, stream.ErrClosed) {
		t.Errorf("read back %d elements, %v", len(els), err)
	}

	boom := errors.New("boom")
	if err := stream.WriteHeader(failWriter{boom}, h); !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "stream: ") {
		t.Errorf("WriteHeader: %v", err)
	}
	if err := stream.Close(failWriter{boom}); !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "stream: ") {
		t.Errorf("Close: %v", err)
	}
}
