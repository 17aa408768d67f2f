package stanza_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/xpush/xpush/xmpp/stanza"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// notification is the paper's push: an iq set with the four fields of
// androidpn:iq:notification (the uri left empty, as in the paper).
func notification() *stanza.Element {
	n := stanza.New(nsNotify, "notification").
		AddText("id", "ffe31f20").
		AddText("title", "Hello World").
		AddText("message", "hello world ").
		Add(stanza.New(nsNotify, "uri"))
	return stanza.IQ(stanza.TypeSet, "88-0", "sam@127.0.0.1/AndroidpnClient", n)
}

// headline is a notification as any XMPP server delivers it: a headline
// message whose link is an XEP-0066 out-of-band URL.
func headline() *stanza.Element {
	m := stanza.New(stanza.NSClient, "message", "type", stanza.TypeHeadline, "id", "n-2",
		"from", "push.example.org", "to", "alice@example.org")
	m.Attr = append(m.Attr, attr(stanza.NSXML, "lang", "en"))
	m.AddText("subject", "Build finished").
		AddText("body", `xpush 1.2 is out & "ready" <now>`).
		Add(stanza.New(nsOOB, "x").
			AddText("url", "https://example.org/release?v=1.2&os=linux").
			AddText("desc", "Release notes"))
	return m
}

func TestGolden(t *testing.T) {
	req := notification()
	req.SetAttr("from", "127.0.0.1") // as the client sees it
	// The paper's login of an unknown user, answered with its 401.
	login := stanza.New(stanza.NSClient, "iq", "type", stanza.TypeSet, "id", "auth-1", "from", "127.0.0.1").
		Add(stanza.New("jabber:iq:auth", "query").AddText("username", "sam").AddText("resource", "AndroidpnClient"))
	tests := []struct {
		file string
		el   *stanza.Element
	}{
		{"notification-iq.golden", notification()},
		{"notification-result.golden", stanza.Result(req)},
		{"headline-oob.golden", headline()},
		{"auth-error.golden", stanza.ErrorReply(login, stanza.NotAuthorized)},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			// One stanza per file, with a final newline so that the
			// files read well; the newline is not part of the encoding.
			got := append(tt.el.AppendXML(nil, stanza.NSClient), '\n')
			checkGolden(t, filepath.Join("testdata", tt.file), got)
			if back := decodeXML(t, string(bytes.TrimSuffix(got, []byte("\n"))), stanza.NSClient); !equal(back, tt.el) {
				t.Errorf("golden output decodes to %s, want %s", back, tt.el)
			}
		})
	}
}

// checkGolden compares got with the golden file, or rewrites the file
// with -update (the pattern of go/printer's tests).
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
