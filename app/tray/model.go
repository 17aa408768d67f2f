package tray

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/xpush/xpush/app/control"
)

// ItemID names an entry of the tray menu. The menu has the same entries,
// in the same order, for every status; only their labels, check marks and
// enabled states change.
type ItemID int

// The menu's entries.
const (
	ItemStatus        ItemID = iota + 1 // the state in plain words; enabled while the demo runs
	ItemHistory                         // "Open history (3 unread)"
	ItemPause                           // the "Pause notifications" submenu
	ItemPauseHour                       // "For 1 hour"
	ItemPauseTomorrow                   // "Until tomorrow" (08:00)
	ItemPauseOff                        // "Off"
	ItemAccount                         // "Account…"
	ItemSettings                        // "Settings…"
	ItemQuit                            // "Quit"
)

// Item is one entry of the tray menu; an Item with a zero ID is a
// separator.
type Item struct {
	ID        ItemID
	Label     string
	Enabled   bool
	Checkable bool // has a check mark, shown when Checked
	Checked   bool
	Children  []Item // the entries of a submenu
}

// Separator reports whether the item is a separator line.
func (it Item) Separator() bool { return it.ID == 0 }

// Icon says which tray icon to show; package assets draws it
// (assets.Tray(Icon.State, Icon.DND, Icon.Unread)).
type Icon struct {
	State  control.State
	DND    bool // do-not-disturb is active
	Unread bool // there are unread notifications
}

// Menu is everything the tray shows for one status.
type Menu struct {
	Items   []Item
	Icon    Icon
	Tooltip string
	// Title is the text beside the icon where the platform shows one
	// (macOS): the unread count, or "" when there is nothing unread.
	Title string
	// Stale is when this rendering goes out of date with no new status:
	// do-not-disturb ends, a label saying "tomorrow" turns into "today" at
	// midnight, or the remaining pause falls to an hour. Zero when never.
	// Run sets a single timer for it; there is no ticker.
	Stale time.Time
}

// Labels.
const (
	appName       = "xpush"
	labelPause    = "Pause notifications"
	labelHour     = "For 1 hour"
	labelTomorrow = "Until tomorrow"
	labelOff      = "Off"
	labelAccount  = "Account…"
	labelSettings = "Settings…"
	labelQuit     = "Quit"
)

// Do-not-disturb choices.
const (
	// PauseFor is how long "For 1 hour" pauses notifications.
	PauseFor = time.Hour
	// MorningHour is when "Until tomorrow" ends, in local time: 08:00 on
	// the next calendar day.
	MorningHour = 8
	// hourSlack lets "For 1 hour" stay checked while the status that
	// confirms the choice travels back to the tray.
	hourSlack = time.Minute
	// maxTooltip is the longest tooltip Windows shows (128 UTF-16 units
	// with the terminating NUL).
	maxTooltip = 127
)

// Tomorrow returns when "Until tomorrow" ends for a click at now:
// [MorningHour] o'clock on the next calendar day, in now's location.
func Tomorrow(now time.Time) time.Time {
	y, m, d := now.Date()
	return time.Date(y, m, d+1, MorningHour, 0, 0, 0, now.Location())
}

// Model returns the tray menu, tooltip, title and icon for a status at
// time now. Times are shown in now's location.
func Model(s control.Status, now time.Time) Menu {
	loc := now.Location()
	until := s.DNDUntil.In(loc)
	dnd := !s.DNDUntil.IsZero() && until.After(now)
	midnight := startOfDay(now, 1)

	// The check mark is on the choice the pause looks like: one that ends
	// at MorningHour o'clock sharp is "Until tomorrow" (also after
	// midnight), one with an hour or less left is "For 1 hour", and one
	// set to some other time elsewhere checks neither.
	off := !dnd
	tomorrow := dnd && until.Hour() == MorningHour && until.Minute() == 0 &&
		until.Second() == 0 && until.Nanosecond() == 0
	hour := dnd && !tomorrow && until.Sub(now) <= PauseFor+hourSlack

	status := statusLine(s)
	demo := s.Demo != nil && s.State == control.StateOnline
	pauseLabel := labelPause
	if dnd {
		pauseLabel = "Paused until " + when(until, now)
	}
	history := "Open history"
	if s.Unread > 0 {
		history = fmt.Sprintf("Open history (%d unread)", s.Unread)
	}

	m := Menu{
		Items: []Item{
			// While the demo runs, the state line offers it: it opens the
			// account window, which shows the console's address and admin
			// password.
			{ID: ItemStatus, Label: status, Enabled: demo},
			{ID: ItemHistory, Label: history, Enabled: true},
			{},
			{ID: ItemPause, Label: pauseLabel, Enabled: true, Children: []Item{
				{ID: ItemPauseHour, Label: labelHour, Enabled: true, Checkable: true, Checked: hour},
				{ID: ItemPauseTomorrow, Label: labelTomorrow, Enabled: true, Checkable: true, Checked: tomorrow},
				{ID: ItemPauseOff, Label: labelOff, Enabled: true, Checkable: true, Checked: off},
			}},
			{},
			{ID: ItemAccount, Label: labelAccount, Enabled: true},
			{ID: ItemSettings, Label: labelSettings, Enabled: true},
			{},
			{ID: ItemQuit, Label: labelQuit, Enabled: true},
		},
		Icon: Icon{State: s.State, DND: dnd, Unread: s.Unread > 0},
	}
	if s.State == "" {
		m.Icon.State = control.StateConnecting // "Starting…"
	}

	tip := []string{appName + ": " + status}
	if demo {
		tip[0] = appName + " demo: console at " + s.Demo.Console
	}
	if s.Unread > 0 {
		tip = append(tip, strconv.Itoa(s.Unread)+" unread")
	}
	if dnd {
		tip = append(tip, "paused until "+when(until, now))
	}
	m.Tooltip = truncate(strings.Join(tip, ", "), maxTooltip)

	switch {
	case s.Unread > 99:
		m.Title = "99+"
	case s.Unread > 0:
		m.Title = strconv.Itoa(s.Unread)
	}

	if dnd {
		// The earliest of: the pause ends, a label's day changes at
		// midnight, the check mark moves to "For 1 hour".
		m.Stale = until
		if midnight.Before(m.Stale) {
			m.Stale = midnight
		}
		if h := until.Add(-PauseFor - hourSlack); !tomorrow && h.After(now) && h.Before(m.Stale) {
			m.Stale = h
		}
	}
	return m
}

// statusLine is the state in plain words.
func statusLine(s control.Status) string {
	switch s.State {
	case control.StateOnline:
		if s.Demo != nil {
			return "Demo: console at " + s.Demo.Console
		}
		if s.JID == "" {
			return "Connected"
		}
		bare, _, _ := strings.Cut(s.JID, "/")
		return "Connected as " + bare
	case control.StateConnecting:
		return "Connecting…"
	case control.StateOffline:
		if s.Reason == "" {
			return "Offline"
		}
		return "Offline: " + s.Reason
	case control.StateNoAccount:
		return "No account set up"
	}
	return "Starting…"
}

// when says when t is, seen from now: "15:04" today, "tomorrow 08:00",
// or "Mon 2 Jan 15:04" further away.
func when(t, now time.Time) string {
	switch {
	case t.Before(startOfDay(now, 1)):
		return t.Format("15:04")
	case t.Before(startOfDay(now, 2)):
		return "tomorrow " + t.Format("15:04")
	}
	return t.Format("Mon 2 Jan 15:04")
}

// startOfDay returns midnight days after the start of now's day.
func startOfDay(now time.Time, days int) time.Time {
	y, m, d := now.Date()
	return time.Date(y, m, d+days, 0, 0, 0, 0, now.Location())
}

// truncate shortens s to at most n UTF-16 units, ending it with "…" when
// it had to cut.
func truncate(s string, n int) string {
	if len(utf16.Encode([]rune(s))) <= n {
		return s
	}
	units := 1 // the ellipsis
	for i, r := range s {
		units += utf16.RuneLen(r)
		if units > n {
			return s[:i] + "…"
		}
	}
	return s
}
