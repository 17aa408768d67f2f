package stream_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/xpush/xpush/xmpp/stanza"
	"github.com/xpush/xpush/xmpp/stream"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// TestGolden compares what the codec writes with testdata/*.golden; go
// test -update rewrites them (the pattern of go/printer's tests). Each file
// ends with a newline that is not part of the output.
func TestGolden(t *testing.T) {
	tests := []struct {
		file string
		out  []byte
	}{
		{"header-client.golden", stream.AppendHeader(nil, stream.Header{To: "127.0.0.1", Lang: "en"})},
		{"header-server.golden", stream.AppendHeader(nil, stream.Header{From: "127.0.0.1", To: "sam@127.0.0.1", ID: "c2s-7f3a9b", Lang: "en"})},
		{"header-component.golden", stream.AppendHeader(nil, stream.Header{To: "push.example.org", NS: stanza.NSComponent})},
		{"error-policy-violation.golden", stream.PolicyViolation.WithText("stanza larger than 262144 bytes").Element().AppendXML(nil, stanza.NSClient)},
		{"error-conflict.golden", stream.Conflict.Element().AppendXML(nil, stanza.NSClient)},
		// A whole server-to-client transcript of the paper's push.
		{"transcript-push.golden", transcript()},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			checkGolden(t, filepath.Join("testdata", tt.file), append(tt.out, '\n'))
		})
	}
}

// transcript is what xpushd writes to a client that is sent one push.
func transcript() []byte {
	b := stream.AppendHeader(nil, stream.Header{From: "127.0.0.1", ID: "c2s-7f3a9b", Lang: "en"})
	b = stanza.New(stanza.NSStream, "features").
		Add(stanza.New("http://jabber.org/features/iq-auth", "auth")).
		Add(stanza.New("http://jabber.org/features/iq-register", "register")).
		AppendXML(b, stanza.NSClient)
	b = append(b, ' ') // a keepalive
	n := stanza.New("androidpn:iq:notification", "notification").
		AddText("id", "ffe31f20").AddText("title", "Hello World").AddText("message", "hello world ").
		AddText("uri", "https://example.org/pic.png?size=large&fmt=png")
	b = stanza.IQ(stanza.TypeSet, "88-0", "sam@127.0.0.1/AndroidpnClient", n).AppendXML(b, stanza.NSClient)
	return append(b, stream.CloseTag...)
}

func TestGoldenTranscriptDecodes(t *testing.T) {
	d := openReader(t, bytes.NewReader(transcript()), stream.Limits{})
	els, err := readAll(d)
	if len(els) != 2 || !errors.Is(err, stream.ErrClosed) {
		t.Fatalf("%d elements, %v", len(els), err)
	}
	if got := els[1].Child("androidpn:iq:notification", "notification").ChildText("", "uri"); got != "https://example.org/pic.png?size=large&fmt=png" {
		t.Errorf("uri %q", got)
	}
}

func checkGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n got %s\nwant %s", golden, got, want)
	}
}
