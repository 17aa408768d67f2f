package toast

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"unicode"
)

// Toast is one notification to show.
type Toast struct {
	// Key identifies the toast to its owner; Clicks reports it back.
	Key string
	// Title and Body are plain text; backends escape them for their
	// platform (markup, XML, AppleScript) and bound their length.
	Title, Body string
	// HasLink says that a click leads to a link (the action is labelled
	// "Open") rather than to the history entry ("Show").
	HasLink bool
	// URI is the link itself, for platforms where the toast opens it
	// without the agent (macOS terminal-notifier -open, Windows protocol
	// activation). Only an http or https URI that opener.Check accepts is
	// handed over; any other is ignored and the click, if the platform
	// reports one, comes back through Clicks. Leave it empty to route every
	// click through Clicks.
	URI string
}

// Notifier shows toasts and reports clicks on them.
type Notifier interface {
	// Show posts t. It returns when the platform has accepted the toast or
	// refused it, or when ctx is done.
	Show(ctx context.Context, t Toast) error
	// Clicks delivers the Key of each toast the user clicked, where the
	// platform reports clicks (see the package documentation). It is
	// buffered; when the reader falls behind, clicks are dropped and logged.
	// It is closed by Close.
	Clicks() <-chan string
	// Close releases the platform connection, ends the goroutines the
	// Notifier started and closes Clicks. Show after Close returns
	// ErrClosed. Close is safe to call more than once.
	Close() error
}

// ErrClosed is returned by Show after Close.
var ErrClosed = errors.New("toast: notifier closed")

// Bounds on what one toast carries, and on queued clicks.
const (
	maxTitle   = 256  // runes; every daemon cuts far earlier
	maxBody    = 2048 // runes
	clickQueue = 16   // clicks waiting for the reader
)

// New returns the best Notifier for this platform (see the package
// documentation). appName names the application to the notification
// service; iconPath is an absolute path to a PNG icon, or empty. New does
// no I/O: the platform is first contacted by Show. log receives the
// backend's decisions and dropped clicks; nil discards them.
func New(appName, iconPath string, log *slog.Logger) Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return newPlatform(appName, iconPath, log)
}

// clean makes s fit for a toast: valid UTF-8, no control characters but
// newline and tab, at most max runes.
func clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		if r == '\r' {
			continue
		}
		if r != '\n' && r != '\t' && (unicode.IsControl(r) || r == '\u2028' || r == '\u2029') {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// cleaned returns t with Title and Body cleaned.
func cleaned(t Toast) Toast {
	t.Title = clean(t.Title, maxTitle)
	t.Body = clean(t.Body, maxBody)
	return t
}
