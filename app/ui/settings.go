package ui

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/xpush/xpush/app/control"
	"github.com/xpush/xpush/app/history"
)

// The pause choices.
const (
	dndOff      = "Off"
	dndHour     = "For 1 hour"
	dndTomorrow = "Until tomorrow 08:00"
)

// Bounds of the history retention the settings accept.
const (
	maxHistoryEntries = 1_000_000
	maxHistoryDays    = 3650
)

// dndUntil is when a pause chosen at now ends: the zero time for off, an
// hour from now, or 08:00 local time on the day after now.
func dndUntil(choice string, now time.Time) time.Time {
	switch choice {
	case dndHour:
		return now.Add(time.Hour)
	case dndTomorrow:
		y, m, d := now.Date()
		return time.Date(y, m, d+1, 8, 0, 0, 0, now.Location())
	}
	return time.Time{}
}

// dndText says whether notifications are paused, as of now.
func dndText(until, now time.Time) string {
	if until.IsZero() || !until.After(now) {
		return "Notifications are on."
	}
	y, m, d := until.Date()
	ny, nm, nd := now.In(until.Location()).Date()
	switch {
	case y == ny && m == nm && d == nd:
		return "Notifications are paused until " + until.Format("15:04") + "."
	case until.Sub(now) < 6*24*time.Hour:
		return "Notifications are paused until " + until.Format("Monday 15:04") + "."
	}
	return "Notifications are paused until " + until.Format("2 January 2006, 15:04") + "."
}

// settingsView is the settings window.
type settingsView struct {
	base

	filling bool // the radio group is set by the program, not the user

	startAtLogin *widget.Check
	dnd          *widget.RadioGroup
	dndStatus    *widget.Label
	muted        *widget.Entry
	mutedErr     *widget.Label
	histMax      *widget.Entry
	histMaxErr   *widget.Label
	histDays     *widget.Entry
	histDaysErr  *widget.Label
	save         *widget.Button
	result       *widget.Label
}

func newSettingsView(w fyne.Window, e *env) *settingsView {
	v := &settingsView{}
	v.init(e, w)
	w.SetTitle("xpush: settings")
	w.SetContent(v.build())
	w.Resize(fyne.NewSize(520, 0))
	v.async(func(ctx context.Context) func() {
		s, err := v.env.agent.Settings(ctx)
		st, serr := v.env.agent.Status(ctx)
		return func() { v.fill(s, err, st, serr) }
	})
	return v
}

func (v *settingsView) build() fyne.CanvasObject {
	v.startAtLogin = widget.NewCheck("Start xpush when I log in", nil)
	v.dnd = widget.NewRadioGroup([]string{dndOff, dndHour, dndTomorrow}, v.dndChanged)
	v.dnd.Required = true
	v.dnd.Disable()
	v.dndStatus = widget.NewLabel("")
	v.dndStatus.Importance = widget.LowImportance
	v.muted = widget.NewEntry()
	v.muted.SetPlaceHolder("example.org, news.example.com")
	v.histMax = widget.NewEntry()
	v.histDays = widget.NewEntry()
	v.mutedErr, v.histMaxErr, v.histDaysErr = errLabel(), errLabel(), errLabel()
	v.save = widget.NewButton("Save", v.submit)
	v.save.Importance = widget.HighImportance
	v.save.Disable()
	v.result = widget.NewLabel("")
	v.result.Wrapping = fyne.TextWrapWord
	v.result.Hide()

	mutedHint := widget.NewLabel("Notifications from these servers go to the history without a pop-up. Separate them with commas.")
	mutedHint.Wrapping = fyne.TextWrapWord
	mutedHint.Importance = widget.LowImportance
	form := widget.NewForm(
		widget.NewFormItem("", v.startAtLogin),
		widget.NewFormItem("Pause notifications", container.NewVBox(v.dnd, v.dndStatus)),
		widget.NewFormItem("Muted servers", container.NewVBox(v.muted, v.mutedErr, mutedHint)),
		widget.NewFormItem("Keep at most", container.NewVBox(
			container.NewBorder(nil, nil, nil, widget.NewLabel("notifications"), v.histMax), v.histMaxErr)),
		widget.NewFormItem("Keep for", container.NewVBox(
			container.NewBorder(nil, nil, nil, widget.NewLabel("days"), v.histDays), v.histDaysErr)),
	)
	return container.NewPadded(container.NewVBox(form, container.NewHBox(v.save), v.result))
}

func (v *settingsView) fill(s control.Settings, err error, st control.Status, serr error) {
	v.save.Enable()
	if err != nil {
		v.setResult("Could not read the settings: "+userMessage(err), widget.DangerImportance)
	} else {
		v.startAtLogin.SetChecked(s.StartAtLogin)
		v.muted.SetText(strings.Join(s.Muted, ", "))
		if s.HistoryMax <= 0 {
			s.HistoryMax = history.DefaultMaxEntries
		}
		if s.HistoryDays <= 0 {
			s.HistoryDays = int(history.DefaultMaxAge / (24 * time.Hour))
		}
		v.histMax.SetText(strconv.Itoa(s.HistoryMax))
		v.histDays.SetText(strconv.Itoa(s.HistoryDays))
	}
	defer v.relayout()
	if serr != nil {
		v.dndStatus.SetText(userMessage(serr))
		return
	}
	v.dnd.Enable()
	now := v.env.now()
	if st.DNDUntil.IsZero() || !st.DNDUntil.After(now) {
		v.filling = true
		v.dnd.SetSelected(dndOff)
		v.filling = false
	}
	v.dndStatus.SetText(dndText(st.DNDUntil, now))
}

// dndChanged is the radio group's OnChanged: it pauses notifications, or
// ends the pause, at once.
func (v *settingsView) dndChanged(choice string) {
	if v.filling || choice == "" {
		return
	}
	now := v.env.now()
	until := dndUntil(choice, now)
	v.async(func(ctx context.Context) func() {
		err := v.env.agent.SetDND(ctx, until)
		return func() {
			if err != nil {
				v.dndStatus.SetText("Not changed: " + userMessage(err))
				return
			}
			v.dndStatus.SetText(dndText(until, now))
		}
	})
}

// parseMuted reads the comma-separated servers: trimmed, lower-case,
// without duplicates.
func parseMuted(s string) ([]string, string) {
	var out []string
	for f := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == ';' }) {
		d := strings.TrimSuffix(strings.ToLower(f), ".")
		switch {
		case strings.Contains(d, "@"):
			return nil, fmt.Sprintf("“%s” is an address; enter just the server, for example %s.", f, d[strings.LastIndex(d, "@")+1:])
		case d == "" || len(d) > 253 || strings.ContainsAny(d, "/:\\\"'<>[]()"):
			return nil, fmt.Sprintf("“%s” is not a server name like example.org.", f)
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out, ""
}

// parseCount reads a whole number from lo to hi.
func parseCount(s string, lo, hi int, what string) (int, string) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < lo || n > hi {
		return 0, fmt.Sprintf("Enter a number of %s from %d to %d.", what, lo, hi)
	}
	return n, ""
}

func (v *settingsView) submit() {
	muted, mErr := parseMuted(v.muted.Text)
	maxN, nErr := parseCount(v.histMax.Text, 1, maxHistoryEntries, "notifications")
	days, dErr := parseCount(v.histDays.Text, 1, maxHistoryDays, "days")
	setErr(v.mutedErr, mErr)
	setErr(v.histMaxErr, nErr)
	setErr(v.histDaysErr, dErr)
	v.relayout()
	if mErr != "" || nErr != "" || dErr != "" {
		v.setResult("Please correct the fields above.", widget.DangerImportance)
		return
	}
	s := control.Settings{
		StartAtLogin: v.startAtLogin.Checked,
		Muted:        muted,
		HistoryMax:   maxN,
		HistoryDays:  days,
	}
	v.save.Disable()
	v.setResult("Saving…", widget.MediumImportance)
	v.async(func(ctx context.Context) func() {
		err := v.env.agent.SaveSettings(ctx, s)
		return func() {
			v.save.Enable()
			if err != nil {
				v.setResult("Not saved: "+userMessage(err), widget.DangerImportance)
				return
			}
			v.muted.SetText(strings.Join(muted, ", "))
			v.setResult("Saved.", widget.SuccessImportance)
		}
	})
}

func (v *settingsView) setResult(msg string, imp widget.Importance) {
	v.result.SetText(msg)
	v.result.Importance = imp
	v.result.Show()
	v.relayout()
}
