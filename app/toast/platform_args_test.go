package toast

import (
	"encoding/xml"
	"slices"
	"strings"
	"testing"

	"git.sr.ht/~jackmordaunt/go-toast/tmpl"
)

// nasty is text that means something to one of the platforms' parsers.
var nasty = []string{
	"]]><action activationType=\"protocol\" arguments=\"ms-msdt:/id\" content=\"x\"/>",
	"\"@\n$(Start-Process calc)\n@\"",
	"`$env:USERNAME` ${x} $x 'q' \u201c\u201d\u2018",
	"<b>&amp;</b> &#36; ü 漢字 🎉",
	"[array, of, things]",
	"(plist) {dict = 1;} <data>",
	"-title",
	"\\\\double backslash",
	"tab\there\nnew line",
	"",
}

func TestToastXML(t *testing.T) {
	for _, s := range nasty {
		in := cleaned(Toast{Key: "k" + s, Title: s, Body: s + " body"})
		doc := toastXML(in, `C:\Program Files\xpush\icon "1".png`)
		for _, bad := range []string{"$", "`", "\n", "\r", "'", "]]>"} {
			if strings.Contains(doc, bad) {
				t.Errorf("XML for %q contains %q:\n%s", s, bad, doc)
			}
		}
		for _, r := range doc {
			if r < 0x20 || r > 0x7E {
				t.Errorf("XML for %q has the non-ASCII or control character %U", s, r)
				break
			}
		}
		// It parses, with one title, one body and the key as the launch
		// argument, all back to the original text.
		var got struct {
			Activation string   `xml:"activationType,attr"`
			Launch     string   `xml:"launch,attr"`
			Texts      []string `xml:"visual>binding>text"`
			Image      struct {
				Src string `xml:"src,attr"`
			} `xml:"visual>binding>image"`
			Actions []struct{} `xml:"actions>action"`
		}
		if err := xml.Unmarshal([]byte(doc), &got); err != nil {
			t.Fatalf("XML for %q does not parse: %v\n%s", s, err, doc)
		}
		want := []string{in.Title, in.Body}
		if got.Activation != "foreground" || got.Launch != keyPrefix+in.Key ||
			!slices.Equal(got.Texts, want) || len(got.Actions) != 0 ||
			got.Image.Src != `C:\Program Files\xpush\icon "1".png` {
			t.Errorf("XML for %q reads back as %+v", s, got)
		}
	}
}

func TestToastXMLActivation(t *testing.T) {
	tests := []struct {
		uri, activation, launch string
	}{
		{"https://example.org/a?b=1&c=$(x)", "protocol", "https://example.org/a?b=1&c=$(x)"},
		{"http://example.org/", "protocol", "http://example.org/"},
		{"ms-msdt:/id PCWDiagnostic", "foreground", keyPrefix + "k"},
		{"file:///C:/Windows/System32/calc.exe", "foreground", keyPrefix + "k"},
		{"javascript:alert(1)", "foreground", keyPrefix + "k"},
		{"", "foreground", keyPrefix + "k"},
	}
	for _, tt := range tests {
		doc := toastXML(Toast{Key: "k", Title: "t", URI: tt.uri, HasLink: tt.uri != ""}, "")
		var got struct {
			Activation string `xml:"activationType,attr"`
			Launch     string `xml:"launch,attr"`
		}
		if err := xml.Unmarshal([]byte(doc), &got); err != nil {
			t.Fatal(err)
		}
		if got.Activation != tt.activation || got.Launch != tt.launch {
			t.Errorf("uri %q: activation %q launch %q, want %q %q", tt.uri, got.Activation, got.Launch, tt.activation, tt.launch)
		}
		if strings.Contains(doc, "<image") {
			t.Error("an image element without an icon")
		}
	}
}

func TestWindowsAppID(t *testing.T) {
	for in, want := range map[string]string{
		"xpush":             "xpush",
		"xpush 1.0":         "xpush 1.0",
		"x'push\\Evil$(a)":  "xpushEvila",
		"'\\":               "xpush",
		"org.xpush.Agent_2": "org.xpush.Agent_2",
	} {
		if got := windowsAppID(in); got != want {
			t.Errorf("windowsAppID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTerminalNotifierArgs(t *testing.T) {
	for _, s := range nasty {
		args := terminalNotifierArgs(Toast{Title: s, Body: s}, "")
		want := []string{"-title", `\` + s, "-message", `\` + s}
		if !slices.Equal(args, want) {
			t.Errorf("args for %q = %q", s, args)
		}
	}
	args := terminalNotifierArgs(Toast{Title: "t", Body: "b", URI: "https://example.org/x?y=1", HasLink: true}, "/Applications/xpush.app/icon.png")
	want := []string{"-title", `\t`, "-message", `\b`, "-appIcon", `\/Applications/xpush.app/icon.png`, "-open", `\https://example.org/x?y=1`}
	if !slices.Equal(args, want) {
		t.Errorf("args = %q\nwant   %q", args, want)
	}
	for _, uri := range []string{"file:///etc/passwd", "javascript:alert(1)", "-https://x", "https://x/\n-y"} {
		if args := terminalNotifierArgs(Toast{Title: "t", URI: uri}, ""); slices.Contains(args, "-open") {
			t.Errorf("-open for the unsafe %q: %q", uri, args)
		}
	}
}

func TestOsascriptArgs(t *testing.T) {
	for _, s := range nasty {
		args := osascriptArgs(Toast{Title: s, Body: s + "b"})
		n := len(args)
		if args[n-2] != "x"+s || args[n-1] != "x"+s+"b" {
			t.Errorf("text arguments for %q = %q", s, args[n-2:])
		}
		for i := 0; i < n-2; i += 2 {
			if args[i] != "-e" || strings.Contains(args[i+1], s) && s != "" {
				t.Errorf("script arguments for %q carry the text: %q", s, args[:n-2])
				break
			}
		}
	}
}

// TestToastXMLInPowerShell renders go-toast's PowerShell fallback script
// with our XML: the here-string must hold the XML whole, with nothing that
// PowerShell expands.
func TestToastXMLInPowerShell(t *testing.T) {
	for _, s := range nasty {
		doc := toastXML(cleaned(Toast{Key: s, Title: s, Body: s}), "")
		var script strings.Builder
		err := tmpl.ScriptTemplate.Execute(&script, struct{ AppID, XML string }{windowsAppID("xpush"), doc})
		if err != nil {
			t.Fatal(err)
		}
		text := script.String()
		start := strings.Index(text, "@\"\n")
		end := strings.Index(text, "\n\"@")
		if start < 0 || end < 0 || strings.Count(text, "\n\"@") != 1 {
			t.Fatalf("here-string for %q is not delimited once:\n%s", s, text)
		}
		body := text[start+3 : end]
		if body != doc || strings.ContainsAny(body, "$`\n") {
			t.Errorf("here-string for %q expands or differs:\n%s", s, body)
		}
	}
}
