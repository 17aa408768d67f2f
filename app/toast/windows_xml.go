package toast

import (
	"strconv"
	"strings"

	"github.com/xpush/xpush/app/opener"
)

// This file builds the toast XML of the Windows backend. It has no build
// tag so that its tests run everywhere.

// keyPrefix marks the launch argument of a toast whose click should come
// back through Clicks (foreground activation) rather than open a link
// (protocol activation).
const keyPrefix = "xpush-key:"

// toastXML returns the Windows toast XML for t. A click on a toast with a
// link that opener.Check accepts opens it through protocol activation;
// any other toast uses foreground activation with keyPrefix+Key, which the
// activation callback turns into a click.
//
// go-toast's own template pastes text unescaped into XML (a title with
// "]]>" can add elements, such as a protocol action with any scheme) and,
// when the COM path fails, the XML into a PowerShell expandable here-string
// (where "$(...)" runs). So the XML is built here, on one line, with every
// character that means something to either (& < > " ' $ `) and everything
// outside printable ASCII written as a character reference: the PowerShell
// fallback then sees nothing it would expand, and no line can start with
// the here-string's terminator.
func toastXML(t Toast, icon string) string {
	activation, launch := "foreground", keyPrefix+t.Key
	if t.URI != "" && opener.Check(t.URI) == nil {
		activation, launch = "protocol", t.URI
	}
	var b strings.Builder
	b.WriteString(`<toast activationType="`)
	b.WriteString(activation)
	b.WriteString(`" launch="`)
	xmlEscape(&b, launch)
	b.WriteString(`" duration="short"><visual><binding template="ToastGeneric">`)
	if icon != "" {
		b.WriteString(`<image placement="appLogoOverride" src="`)
		xmlEscape(&b, icon)
		b.WriteString(`"/>`)
	}
	b.WriteString(`<text>`)
	xmlEscape(&b, t.Title)
	b.WriteString(`</text>`)
	if t.Body != "" {
		b.WriteString(`<text>`)
		xmlEscape(&b, t.Body)
		b.WriteString(`</text>`)
	}
	b.WriteString(`</binding></visual></toast>`)
	return b.String()
}

// xmlEscape writes s as XML character data safe in text and in
// double-quoted attributes, see toastXML. Characters XML 1.0 does not allow
// become U+FFFD.
func xmlEscape(b *strings.Builder, s string) {
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n':
			// kept, as references, so the XML stays on one line
		case r < 0x20 || r == 0xFFFE || r == 0xFFFF:
			r = '\uFFFD'
		case r < 0x7F && !strings.ContainsRune("&<>\"'$`", r):
			b.WriteRune(r)
			continue
		}
		b.WriteString("&#")
		b.WriteString(strconv.Itoa(int(r)))
		b.WriteByte(';')
	}
}

// windowsAppID makes appName usable as an AppUserModelID: a registry key
// name and a single-quoted PowerShell string.
func windowsAppID(appName string) string {
	id := strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '.', r == '-', r == '_', r == ' ':
			return r
		}
		return -1
	}, appName)
	if strings.TrimSpace(id) == "" {
		return "xpush"
	}
	return id
}
