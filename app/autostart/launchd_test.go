package autostart

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// plistValue is a decoded property list value: string, bool or []any.
type plistValue = any

// decodePlist reads a property list whose root is a dict of strings,
// booleans and arrays of strings, as a strict reader would: it fails on
// anything else.
func decodePlist(t *testing.T, data []byte) map[string]plistValue {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(data)))
	d.Strict = true
	next := func() xml.Token {
		for {
			tok, err := d.Token()
			if err != nil {
				t.Fatalf("plist: %v", err)
			}
			switch tok := tok.(type) {
			case xml.CharData:
				if strings.TrimSpace(string(tok)) == "" {
					continue
				}
			case xml.ProcInst, xml.Directive, xml.Comment:
				continue
			}
			return xml.CopyToken(tok)
		}
	}
	expectStart := func(name string) xml.StartElement {
		tok := next()
		se, ok := tok.(xml.StartElement)
		if !ok || (name != "" && se.Name.Local != name) {
			t.Fatalf("plist: got %#v, want <%s>", tok, name)
		}
		return se
	}
	text := func(name string) string {
		var s string
		for {
			tok, err := d.Token()
			if err != nil {
				t.Fatalf("plist: %v", err)
			}
			switch tok := tok.(type) {
			case xml.CharData:
				s += string(tok)
			case xml.EndElement:
				if tok.Name.Local != name {
					t.Fatalf("plist: </%s> in <%s>", tok.Name.Local, name)
				}
				return s
			default:
				t.Fatalf("plist: %#v in <%s>", tok, name)
			}
		}
	}
	var value func(se xml.StartElement) plistValue
	value = func(se xml.StartElement) plistValue {
		switch se.Name.Local {
		case "string":
			return text("string")
		case "true", "false":
			if s := text(se.Name.Local); s != "" {
				t.Fatalf("plist: text in <%s>", se.Name.Local)
			}
			return se.Name.Local == "true"
		case "array":
			var a []any
			for {
				tok := next()
				if ee, ok := tok.(xml.EndElement); ok && ee.Name.Local == "array" {
					return a
				}
				se, ok := tok.(xml.StartElement)
				if !ok {
					t.Fatalf("plist: %#v in <array>", tok)
				}
				a = append(a, value(se))
			}
		}
		t.Fatalf("plist: unexpected <%s>", se.Name.Local)
		return nil
	}
	if se := expectStart("plist"); len(se.Attr) != 1 || se.Attr[0].Value != "1.0" {
		t.Fatalf("plist: attributes %v", se.Attr)
	}
	expectStart("dict")
	dict := map[string]plistValue{}
	for {
		tok := next()
		if ee, ok := tok.(xml.EndElement); ok && ee.Name.Local == "dict" {
			break
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "key" {
			t.Fatalf("plist: %#v where a <key> belongs", tok)
		}
		key := text("key")
		if _, dup := dict[key]; dup {
			t.Fatalf("plist: duplicate key %q", key)
		}
		dict[key] = value(expectStart(""))
	}
	if tok := next(); !reflect.DeepEqual(tok, xml.EndElement{Name: xml.Name{Local: "plist"}}) {
		t.Fatalf("plist: %#v after the dict", tok)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		for {
			tok, err := d.Token()
			if err != nil {
				break
			}
			if cd, ok := tok.(xml.CharData); !ok || strings.TrimSpace(string(cd)) != "" {
				t.Fatalf("plist: %#v after </plist>", tok)
			}
		}
	}
	return dict
}

func TestPlist(t *testing.T) {
	b := launchdBackend{dir: filepath.Join(t.TempDir(), "Library", "LaunchAgents")}
	exe := "/Applications/x & <y> \"push\".app/Contents/MacOS/xpush"
	args := []string{"--jid", "a'b@example.org", "50% ]]> &amp;", "日本"}
	if on, err := b.enabled(); err != nil || on {
		t.Fatalf("enabled before enable: %v, %v", on, err)
	}
	if err := b.enable(exe, args); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(b.dir, "org.xpush.agent.plist")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">`+"\n") {
		t.Errorf("plist header:\n%s", data)
	}
	got := decodePlist(t, data)
	want := map[string]plistValue{
		"Label":                  "org.xpush.agent",
		"ProgramArguments":       []any{exe, args[0], args[1], args[2], args[3]},
		"RunAtLoad":              true,
		"ProcessType":            "Interactive",
		"LimitLoadToSessionType": "Aqua",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plist:\n got %#v\nwant %#v\n%s", got, want, data)
	}
	if on, err := b.enabled(); err != nil || !on {
		t.Errorf("enabled after enable: %v, %v", on, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode: %v, %v", fi.Mode(), err)
	}
}

func TestPlistGolden(t *testing.T) {
	data, err := renderPlist("/Applications/xpush.app/Contents/MacOS/xpush", []string{"--flag"})
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>org.xpush.agent</string>
	<key>ProgramArguments</key>
	<array>
		<string>/Applications/xpush.app/Contents/MacOS/xpush</string>
		<string>--flag</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>ProcessType</key>
	<string>Interactive</string>
	<key>LimitLoadToSessionType</key>
	<string>Aqua</string>
</dict>
</plist>
`
	if string(data) != want {
		t.Errorf("plist:\n%s\nwant:\n%s", data, want)
	}
}
