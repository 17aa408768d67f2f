package ui

import (
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // zones for the DST cases

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/xpush/xpush/app/control"
)

func newSettingsTest(t *testing.T, agent *fakeAgent) (*settingsView, fyne.Window, *loop) {
	t.Helper()
	a := test.NewTempApp(t)
	e, l := newTestEnv(t, agent, nil)
	w := a.NewWindow("")
	v := newSettingsView(w, e)
	w.Resize(fyne.NewSize(520, 600))
	closeView(t, w, &v.base)
	l.until(t, "the settings", func() bool { return !v.save.Disabled() })
	return v, w, l
}

func TestDNDUntil(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		choice string
		now    time.Time
		want   time.Time
	}{
		{dndOff, t0, time.Time{}},
		{dndHour, t0, t0.Add(time.Hour)},
		{dndTomorrow, t0, time.Date(2025, 3, 2, 8, 0, 0, 0, time.Local)},
		// Just after midnight, "tomorrow" is the next calendar day.
		{dndTomorrow, time.Date(2025, 3, 2, 0, 30, 0, 0, ny), time.Date(2025, 3, 3, 8, 0, 0, 0, ny)},
		// Month and year ends.
		{dndTomorrow, time.Date(2025, 1, 31, 22, 0, 0, 0, ny), time.Date(2025, 2, 1, 8, 0, 0, 0, ny)},
		{dndTomorrow, time.Date(2025, 12, 31, 22, 0, 0, 0, ny), time.Date(2026, 1, 1, 8, 0, 0, 0, ny)},
		// The night the clocks go forward is 23 hours long: still 08:00.
		{dndTomorrow, time.Date(2025, 3, 8, 20, 0, 0, 0, ny), time.Date(2025, 3, 9, 8, 0, 0, 0, ny)},
	} {
		got := dndUntil(c.choice, c.now)
		if !got.Equal(c.want) {
			t.Errorf("dndUntil(%q, %v) = %v, want %v", c.choice, c.now, got, c.want)
		}
		if c.choice == dndTomorrow && (got.Hour() != 8 || got.Minute() != 0) {
			t.Errorf("dndUntil(%q, %v) = %v, not 08:00 local", c.choice, c.now, got)
		}
	}
}

func TestSettingsDND(t *testing.T) {
	agent := &fakeAgent{status: control.Status{State: control.StateOnline}}
	v, _, l := newSettingsTest(t, agent)
	if v.dnd.Selected != dndOff || v.dnd.Disabled() {
		t.Fatalf("pause = %q (disabled %v), want Off", v.dnd.Selected, v.dnd.Disabled())
	}
	if got := agent.dndCalls(); len(got) != 0 {
		t.Fatalf("showing the settings called SetDND: %v", got)
	}
	for _, c := range []struct {
		choice string
		want   time.Time
		text   string
	}{
		{dndHour, t0.Add(time.Hour), "paused until 15:30"},
		{dndTomorrow, time.Date(2025, 3, 2, 8, 0, 0, 0, time.Local), "paused until Sunday 08:00"},
		{dndOff, time.Time{}, "Notifications are on."},
	} {
		n := len(agent.dndCalls())
		v.dnd.SetSelected(c.choice) // as a tap on the choice does
		l.until(t, "SetDND", func() bool { return len(agent.dndCalls()) == n+1 })
		if got := agent.dndCalls()[n]; !got.Equal(c.want) {
			t.Errorf("%s: SetDND(%v), want %v", c.choice, got, c.want)
		}
		l.until(t, "the pause text", func() bool { return strings.Contains(v.dndStatus.Text, c.text) })
	}
}

func TestSettingsShowsCurrentPause(t *testing.T) {
	until := time.Date(2025, 3, 2, 8, 0, 0, 0, time.Local)
	agent := &fakeAgent{status: control.Status{State: control.StateOnline, DNDUntil: until}}
	v, _, _ := newSettingsTest(t, agent)
	if v.dnd.Selected != "" {
		t.Errorf("choice %q selected during a pause", v.dnd.Selected)
	}
	if !strings.Contains(v.dndStatus.Text, "paused until Sunday 08:00") {
		t.Errorf("pause text %q", v.dndStatus.Text)
	}
}

func TestSettingsSave(t *testing.T) {
	agent := &fakeAgent{settings: control.Settings{Muted: []string{"a.example"}, HistoryDays: 30}}
	v, _, l := newSettingsTest(t, agent)
	if v.muted.Text != "a.example" || v.histMax.Text != "10000" || v.histDays.Text != "30" || v.startAtLogin.Checked {
		t.Errorf("shown: muted %q, max %q, days %q, start %v", v.muted.Text, v.histMax.Text, v.histDays.Text, v.startAtLogin.Checked)
	}
	test.Tap(v.startAtLogin)
	v.muted.SetText("Example.org, news.example.com.  example.org;b.example")
	v.histMax.SetText("500")
	v.histDays.SetText(" 7 ")
	test.Tap(v.save)
	l.until(t, "SaveSettings", func() bool { return len(agent.savedSettings()) == 1 })
	got := agent.savedSettings()[0]
	want := control.Settings{StartAtLogin: true, Muted: []string{"example.org", "news.example.com", "b.example"}, HistoryMax: 500, HistoryDays: 7}
	if got.StartAtLogin != want.StartAtLogin || !slices.Equal(got.Muted, want.Muted) ||
		got.HistoryMax != want.HistoryMax || got.HistoryDays != want.HistoryDays {
		t.Errorf("SaveSettings(%+v), want %+v", got, want)
	}
	l.until(t, "Saved", func() bool { return v.result.Text == "Saved." })
	if v.muted.Text != "example.org, news.example.com, b.example" {
		t.Errorf("muted shown as %q", v.muted.Text)
	}
}

func TestSettingsValidation(t *testing.T) {
	agent := &fakeAgent{}
	v, w, l := newSettingsTest(t, agent)
	v.muted.SetText("example.org, alice@example.net")
	v.histMax.SetText("lots")
	v.histDays.SetText("0")
	test.Tap(v.save)
	if !strings.Contains(v.mutedErr.Text, "example.net") || !v.mutedErr.Visible() {
		t.Errorf("muted message %q", v.mutedErr.Text)
	}
	if !strings.Contains(v.histMaxErr.Text, "notifications") || !strings.Contains(v.histDaysErr.Text, "days") {
		t.Errorf("messages %q, %q", v.histMaxErr.Text, v.histDaysErr.Text)
	}
	assertMarkup(t, "settings_errors.xml", w.Canvas())
	l.settle(50 * time.Millisecond)
	if got := agent.savedSettings(); len(got) != 0 {
		t.Errorf("saved invalid settings: %v", got)
	}
}

func TestParseMuted(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		err  bool
	}{
		{"", nil, false},
		{"  ", nil, false},
		{"a.org,b.org", []string{"a.org", "b.org"}, false},
		{"A.org., a.org ,,b.org", []string{"a.org", "b.org"}, false},
		{"localhost", []string{"localhost"}, false},
		{"bob@a.org", nil, true},
		{"https://a.org/", nil, true},
		{"a.org:5222", nil, true},
	} {
		got, msg := parseMuted(c.in)
		if (msg != "") != c.err || !slices.Equal(got, c.want) {
			t.Errorf("parseMuted(%q) = %v, %q", c.in, got, msg)
		}
	}
}
