package tray

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/xpush/xpush/app/control"
	"github.com/xpush/xpush/assets"
)

// outline renders menu items one a line: "[x]"/"[ ]" for check marks,
// "(disabled)" for disabled items, "---" for separators, two spaces of
// indent per submenu level. The D-Bus test renders the exported menu the
// same way.
func outline(items []Item) string {
	var b strings.Builder
	var walk func([]Item, string)
	walk = func(items []Item, indent string) {
		for _, it := range items {
			b.WriteString(indent)
			switch {
			case it.Separator():
				b.WriteString("---\n")
				continue
			case it.Checkable && it.Checked:
				b.WriteString("[x] ")
			case it.Checkable:
				b.WriteString("[ ] ")
			}
			b.WriteString(it.Label)
			if !it.Enabled {
				b.WriteString(" (disabled)")
			}
			b.WriteString("\n")
			walk(it.Children, indent+"  ")
		}
	}
	walk(items, "")
	return b.String()
}

// The fixed clock: Tuesday 10 March 2026, 14:00 in UTC+1.
var (
	cet = time.FixedZone("CET", 3600)
	now = time.Date(2026, 3, 10, 14, 0, 0, 0, cet)
)

func menuText(status, history, pause, hour, tomorrow, off string) string {
	return fmt.Sprintf(`%s (disabled)
%s
---
%s
  %s For 1 hour
  %s Until tomorrow
  %s Off
---
Account…
Settings…
---
Quit
`, status, history, pause, hour, tomorrow, off)
}

const (
	on  = "[x]"
	no  = "[ ]"
	sep = ", "
)

func TestModel(t *testing.T) {
	alice := "alice@example.org/xpush-1a2b"
	tests := []struct {
		name    string
		status  control.Status
		menu    string
		icon    Icon
		tooltip string
		title   string
		stale   time.Time
	}{{
		name:    "before the first status",
		status:  control.Status{},
		menu:    menuText("Starting…", "Open history", "Pause notifications", no, no, on),
		icon:    Icon{State: control.StateConnecting},
		tooltip: "xpush: Starting…",
	}, {
		name:    "connected",
		status:  control.Status{State: control.StateOnline, JID: alice},
		menu:    menuText("Connected as alice@example.org", "Open history", "Pause notifications", no, no, on),
		icon:    Icon{State: control.StateOnline},
		tooltip: "xpush: Connected as alice@example.org",
	}, {
		name:    "connected, bare JID",
		status:  control.Status{State: control.StateOnline, JID: "alice@example.org"},
		menu:    menuText("Connected as alice@example.org", "Open history", "Pause notifications", no, no, on),
		icon:    Icon{State: control.StateOnline},
		tooltip: "xpush: Connected as alice@example.org",
	}, {
		name:    "connected, no JID",
		status:  control.Status{State: control.StateOnline},
		menu:    menuText("Connected", "Open history", "Pause notifications", no, no, on),
		icon:    Icon{State: control.StateOnline},
		tooltip: "xpush: Connected",
	}, {
		name:    "one unread",
		status:  control.Status{State: control.StateOnline, JID: alice, Unread: 1},
		menu:    menuText("Connected as alice@example.org", "Open history (1 unread)", "Pause notifications", no, no, on),
		icon:    Icon{State: control.StateOnline, Unread: true},
		tooltip: "xpush: Connected as alice@example.org, 1 unread",
		title:   "1",
	}, {
		name:    "three unread",
		status:  control.Status{State: control.StateOnline, JID: alice, Unread: 3},
		menu:    menuText("Connected as alice@example.org", "Open history (3 unread)", "Pause notifications", no, no, on),
		icon:    Icon{State: control.StateOnline, Unread: true},
		tooltip: "xpush: Connected as alice@example.org, 3 unread",
		title:   "3",
	}, {
		name:    "many unread",
		status:  control.Status{State: control.StateOnline, JID: alice, Unread: 1234},
		menu:    menuText("Connected as alice@example.org", "Open history (1234 unread)", "Pause notifications", no, no, on),
		icon:    Icon{State: control.StateOnline, Unread: true},
		tooltip: "xpush: Connected as alice@example.org, 1234 unread",
		title:   "99+",
	}, {
		name:    "connecting",
		status:  control.Status{State: control.StateConnecting, Unread: 2},
		menu:    menuText("Connecting…", "Open history (2 unread)", "Pause notifications", no, no, on),
		icon:    Icon{State: control.StateConnecting, Unread: true},
		tooltip: "xpush: Connecting…, 2 unread",
		title:   "2",
	}, {
		name:    "offline with a reason",
		status:  control.Status{State: control.StateOffline, Reason: "Wrong user name or password."},
		menu:    menuText("Offline: Wrong user name or password.", "Open history", "Pause notifications", no, no, on),
		icon:    Icon{State: control.StateOffline},
		tooltip: "xpush: Offline: Wrong user name or password.",
	}, {
		name:    "offline",
		status:  control.Status{State: control.StateOffline},
		menu:    menuText("Offline", "Open history", "Pause notifications", no, no, on),
		icon:    Icon{State: control.StateOffline},
		tooltip: "xpush: Offline",
	}, {
		name:    "no account",
		status:  control.Status{State: control.StateNoAccount},
		menu:    menuText("No account set up", "Open history", "Pause notifications", no, no, on),
		icon:    Icon{State: control.StateNoAccount},
		tooltip: "xpush: No account set up",
	}, {
		name: "demo",
		status: control.Status{
			State: control.StateOnline, JID: "demo-7f3a@localhost/xpush",
			Demo: &control.Demo{Console: "http://127.0.0.1:8080/", AdminPassword: "secret"},
		},
		menu: strings.Replace(menuText("Demo: console at http://127.0.0.1:8080/", "Open history", "Pause notifications", no, no, on),
			" (disabled)", "", 1), // the demo's line opens the account window
		icon:    Icon{State: control.StateOnline},
		tooltip: "xpush demo: console at http://127.0.0.1:8080/",
	}, {
		name:    "demo, connecting",
		status:  control.Status{State: control.StateConnecting, Demo: &control.Demo{Console: "http://127.0.0.1:8080/"}},
		menu:    menuText("Connecting…", "Open history", "Pause notifications", no, no, on),
		icon:    Icon{State: control.StateConnecting},
		tooltip: "xpush: Connecting…",
	}, {
		name:    "paused for 1 hour",
		status:  control.Status{State: control.StateOnline, JID: alice, DNDUntil: now.Add(time.Hour)},
		menu:    menuText("Connected as alice@example.org", "Open history", "Paused until 15:00", on, no, no),
		icon:    Icon{State: control.StateOnline, DND: true},
		tooltip: "xpush: Connected as alice@example.org, paused until 15:00",
		stale:   now.Add(time.Hour),
	}, {
		name:    "paused for 1 hour, the status a moment late",
		status:  control.Status{State: control.StateOnline, JID: alice, DNDUntil: now.Add(time.Hour + 2*time.Second)},
		menu:    menuText("Connected as alice@example.org", "Open history", "Paused until 15:00", on, no, no),
		icon:    Icon{State: control.StateOnline, DND: true},
		tooltip: "xpush: Connected as alice@example.org, paused until 15:00",
		stale:   now.Add(time.Hour + 2*time.Second),
	}, {
		name:    "paused until tomorrow, with unread",
		status:  control.Status{State: control.StateOnline, JID: alice, DNDUntil: Tomorrow(now), Unread: 5},
		menu:    menuText("Connected as alice@example.org", "Open history (5 unread)", "Paused until tomorrow 08:00", no, on, no),
		icon:    Icon{State: control.StateOnline, DND: true, Unread: true},
		tooltip: "xpush: Connected as alice@example.org, 5 unread, paused until tomorrow 08:00",
		title:   "5",
		stale:   time.Date(2026, 3, 11, 0, 0, 0, 0, cet),
	}, {
		name:    "paused until a time in UTC (as JSON brings it)",
		status:  control.Status{State: control.StateOnline, JID: alice, DNDUntil: time.Date(2026, 3, 10, 13, 45, 0, 0, time.UTC)},
		menu:    menuText("Connected as alice@example.org", "Open history", "Paused until 14:45", on, no, no),
		icon:    Icon{State: control.StateOnline, DND: true},
		tooltip: "xpush: Connected as alice@example.org, paused until 14:45",
		stale:   now.Add(45 * time.Minute),
	}, {
		name:    "paused for 3 hours from elsewhere",
		status:  control.Status{State: control.StateOnline, JID: alice, DNDUntil: now.Add(3 * time.Hour)},
		menu:    menuText("Connected as alice@example.org", "Open history", "Paused until 17:00", no, no, no),
		icon:    Icon{State: control.StateOnline, DND: true},
		tooltip: "xpush: Connected as alice@example.org, paused until 17:00",
		stale:   now.Add(2*time.Hour - time.Minute), // then "For 1 hour" is checked
	}, {
		name:    "paused for days",
		status:  control.Status{State: control.StateOnline, JID: alice, DNDUntil: now.AddDate(0, 0, 3)},
		menu:    menuText("Connected as alice@example.org", "Open history", "Paused until Fri 13 Mar 14:00", no, no, no),
		icon:    Icon{State: control.StateOnline, DND: true},
		tooltip: "xpush: Connected as alice@example.org, paused until Fri 13 Mar 14:00",
		stale:   time.Date(2026, 3, 11, 0, 0, 0, 0, cet),
	}, {
		name:    "pause over",
		status:  control.Status{State: control.StateOnline, JID: alice, DNDUntil: now.Add(-time.Second)},
		menu:    menuText("Connected as alice@example.org", "Open history", "Pause notifications", no, no, on),
		icon:    Icon{State: control.StateOnline},
		tooltip: "xpush: Connected as alice@example.org",
	}, {
		name:    "pause ends now",
		status:  control.Status{State: control.StateOnline, JID: alice, DNDUntil: now},
		menu:    menuText("Connected as alice@example.org", "Open history", "Pause notifications", no, no, on),
		icon:    Icon{State: control.StateOnline},
		tooltip: "xpush: Connected as alice@example.org",
	}, {
		name:    "offline and paused",
		status:  control.Status{State: control.StateOffline, Reason: "No network.", DNDUntil: now.Add(time.Hour)},
		menu:    menuText("Offline: No network.", "Open history", "Paused until 15:00", on, no, no),
		icon:    Icon{State: control.StateOffline, DND: true},
		tooltip: "xpush: Offline: No network., paused until 15:00",
		stale:   now.Add(time.Hour),
	}}
	structure := shape(Model(control.Status{}, now).Items)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Model(tt.status, now)
			if got := outline(m.Items); got != tt.menu {
				t.Errorf("menu:\n%s\nwant:\n%s", got, tt.menu)
			}
			if got := shape(m.Items); got != structure {
				t.Errorf("structure %s, want %s for every status", got, structure)
			}
			if m.Icon != tt.icon {
				t.Errorf("icon %+v, want %+v", m.Icon, tt.icon)
			}
			if m.Tooltip != tt.tooltip {
				t.Errorf("tooltip %q, want %q", m.Tooltip, tt.tooltip)
			}
			if m.Title != tt.title {
				t.Errorf("title %q, want %q", m.Title, tt.title)
			}
			if !m.Stale.Equal(tt.stale) {
				t.Errorf("stale at %v, want %v", m.Stale, tt.stale)
			}
			if !m.Stale.IsZero() && !m.Stale.After(now) {
				t.Errorf("stale at %v, not after now", m.Stale)
			}
		})
	}
}

// shape is the menu's structure: IDs and nesting, without labels.
func shape(items []Item) string {
	var b strings.Builder
	for _, it := range items {
		fmt.Fprintf(&b, "%d", it.ID)
		if it.Checkable {
			b.WriteString("c")
		}
		if len(it.Children) > 0 {
			b.WriteString("(" + shape(it.Children) + ")")
		}
		b.WriteString(" ")
	}
	return b.String()
}

// TestModelOverNight follows a pause until tomorrow through the night:
// the label loses "tomorrow" at midnight, "Until tomorrow" stays checked,
// and at 08:00 the pause is over.
func TestModelOverNight(t *testing.T) {
	until := Tomorrow(now)
	if want := time.Date(2026, 3, 11, 8, 0, 0, 0, cet); !until.Equal(want) {
		t.Fatalf("Tomorrow(%v) = %v, want %v", now, until, want)
	}
	s := control.Status{State: control.StateOnline, DNDUntil: until}
	at := now
	var steps []string
	for range 4 {
		m := Model(s, at)
		steps = append(steps, fmt.Sprintf("%s: %s %v", at.Format("Jan 2 15:04"), m.Items[3].Label, m.Items[3].Children[1].Checked))
		if m.Stale.IsZero() {
			break
		}
		at = m.Stale
	}
	want := []string{
		"Mar 10 14:00: Paused until tomorrow 08:00 true",
		"Mar 11 00:00: Paused until 08:00 true",
		"Mar 11 08:00: Pause notifications false",
	}
	if strings.Join(steps, "\n") != strings.Join(want, "\n") {
		t.Errorf("over the night:\n%s\nwant:\n%s", strings.Join(steps, "\n"), strings.Join(want, "\n"))
	}
}

// TestTomorrowDST: "Until tomorrow" is 08:00 by the wall clock across a
// daylight saving change, and a click just after midnight pauses until the
// next day's morning.
func TestTomorrowDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	for _, tt := range []struct{ at, want time.Time }{
		{time.Date(2026, 3, 28, 22, 0, 0, 0, berlin), time.Date(2026, 3, 29, 8, 0, 0, 0, berlin)},
		{time.Date(2026, 10, 24, 23, 59, 0, 0, berlin), time.Date(2026, 10, 25, 8, 0, 0, 0, berlin)},
		{time.Date(2026, 3, 10, 0, 5, 0, 0, berlin), time.Date(2026, 3, 11, 8, 0, 0, 0, berlin)},
		{time.Date(2026, 12, 31, 20, 0, 0, 0, berlin), time.Date(2027, 1, 1, 8, 0, 0, 0, berlin)},
	} {
		if got := Tomorrow(tt.at); !got.Equal(tt.want) || got.Hour() != MorningHour {
			t.Errorf("Tomorrow(%v) = %v, want %v", tt.at, got, tt.want)
		}
	}
}

func TestTooltipLength(t *testing.T) {
	reason := strings.Repeat("Der Server ist nicht erreichbar – bitte später erneut versuchen. ", 4) + "😀"
	m := Model(control.Status{State: control.StateOffline, Reason: reason, Unread: 7}, now)
	if n := len(utf16.Encode([]rune(m.Tooltip))); n > maxTooltip {
		t.Errorf("tooltip is %d UTF-16 units, want at most %d: %q", n, maxTooltip, m.Tooltip)
	}
	if !strings.HasPrefix(m.Tooltip, "xpush: Offline: Der Server") || !strings.HasSuffix(m.Tooltip, "…") {
		t.Errorf("tooltip %q", m.Tooltip)
	}
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven char", 10, "eleven ch…"},
		{"ab😀cd", 4, "ab…"}, // the emoji takes two units: it does not fit
		{"ab😀cd", 5, "ab😀…"},
	} {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// TestIconChoice checks that each status shows the icon drawn for it.
func TestIconChoice(t *testing.T) {
	for _, tt := range []struct {
		status control.Status
		want   string
	}{
		{control.Status{}, "connecting"},
		{control.Status{State: control.StateOnline}, "online"},
		{control.Status{State: control.StateOnline, Unread: 2}, "online-unread"},
		{control.Status{State: control.StateOnline, DNDUntil: now.Add(time.Hour)}, "dnd"},
		{control.Status{State: control.StateOnline, DNDUntil: now.Add(time.Hour), Unread: 2}, "dnd"},
		{control.Status{State: control.StateOnline, DNDUntil: now.Add(-time.Hour), Unread: 2}, "online-unread"},
		{control.Status{State: control.StateConnecting, Unread: 2}, "connecting"},
		{control.Status{State: control.StateOffline, DNDUntil: now.Add(time.Hour)}, "offline"},
		{control.Status{State: control.StateNoAccount}, "offline"},
	} {
		c := Model(tt.status, now).Icon
		if got := assets.TrayName(c.State, c.DND, c.Unread); got != tt.want {
			t.Errorf("status %+v shows %q, want %q", tt.status, got, tt.want)
		}
	}
}
