package tray

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/xpush/xpush/app/control"
	"github.com/xpush/xpush/assets"
)

// recorder is Actions that write down what they were asked.
type recorder struct{ calls []string }

func (r *recorder) actions() Actions {
	return Actions{
		ShowWindow: func(name string) { r.calls = append(r.calls, "show "+name) },
		SetDND: func(until time.Time) {
			if until.IsZero() {
				r.calls = append(r.calls, "dnd off")
				return
			}
			r.calls = append(r.calls, "dnd until "+until.Format(time.DateTime))
		},
		Quit: func() { r.calls = append(r.calls, "quit") },
	}
}

func TestActions(t *testing.T) {
	for _, tt := range []struct {
		id   ItemID
		want string
		quit bool
	}{
		{ItemStatus, "show account", false}, // enabled while the demo runs
		{ItemHistory, "show history", false},
		{ItemPause, "", false},
		{ItemPauseHour, "dnd until 2026-03-10 15:00:00", false},
		{ItemPauseTomorrow, "dnd until 2026-03-11 08:00:00", false},
		{ItemPauseOff, "dnd off", false},
		{ItemAccount, "show account", false},
		{ItemSettings, "show settings", false},
		{ItemQuit, "quit", true},
	} {
		var r recorder
		quit, dnd, until := r.actions().do(tt.id, now)
		if got := strings.Join(r.calls, "; "); got != tt.want || quit != tt.quit {
			t.Errorf("item %d: %q, quit %v; want %q, quit %v", tt.id, got, quit, tt.want, tt.quit)
		}
		if dnd != strings.HasPrefix(tt.want, "dnd") {
			t.Errorf("item %d: dnd %v", tt.id, dnd)
		}
		if dnd && tt.want != "dnd off" && !strings.HasSuffix(tt.want, until.Format(time.DateTime)) {
			t.Errorf("item %d: until %v", tt.id, until)
		}
	}
	// Nil actions do nothing, and Quit still ends the tray.
	if quit, _, _ := (Actions{}).do(ItemQuit, now); !quit {
		t.Error("Quit without an action did not quit")
	}
	(Actions{}).do(ItemHistory, now)
	(Actions{}).do(ItemPauseHour, now)
}

// fakeItem records the setters the runner calls.
type fakeItem struct {
	id  ItemID
	log *[]string
}

func (f fakeItem) SetTitle(s string) { *f.log = append(*f.log, fmt.Sprintf("%d title %q", f.id, s)) }
func (f fakeItem) Enable()           { *f.log = append(*f.log, fmt.Sprintf("%d enable", f.id)) }
func (f fakeItem) Disable()          { *f.log = append(*f.log, fmt.Sprintf("%d disable", f.id)) }
func (f fakeItem) Check()            { *f.log = append(*f.log, fmt.Sprintf("%d check", f.id)) }
func (f fakeItem) Uncheck()          { *f.log = append(*f.log, fmt.Sprintf("%d uncheck", f.id)) }

// TestUpdate: a new status changes only what differs.
func TestUpdate(t *testing.T) {
	var log []string
	items := map[ItemID]menuItem{}
	for id := ItemStatus; id <= ItemQuit; id++ {
		items[id] = fakeItem{id, &log}
	}
	online := control.Status{State: control.StateOnline, JID: "alice@example.org/x"}
	steps := []struct {
		status control.Status
		want   []string
	}{
		{online, nil},
		{control.Status{State: control.StateOnline, JID: "alice@example.org/x", Unread: 2}, []string{
			`2 title "Open history (2 unread)"`,
		}},
		{control.Status{State: control.StateOnline, JID: "alice@example.org/x", Unread: 2, DNDUntil: now.Add(time.Hour)}, []string{
			`3 title "Paused until 15:00"`, "4 check", "6 uncheck",
		}},
		{control.Status{State: control.StateOffline, Reason: "No network.", DNDUntil: Tomorrow(now)}, []string{
			`1 title "Offline: No network."`, `2 title "Open history"`, `3 title "Paused until tomorrow 08:00"`, "4 uncheck", "5 check",
		}},
		{online, []string{
			`1 title "Connected as alice@example.org"`, `3 title "Pause notifications"`, "5 uncheck", "6 check",
		}},
	}
	shown := Model(online, now).Items
	for i, s := range steps {
		log = nil
		m := Model(s.status, now)
		update(items, shown, m.Items)
		shown = m.Items
		if strings.Join(log, "\n") != strings.Join(s.want, "\n") {
			t.Errorf("step %d calls:\n%s\nwant:\n%s", i, strings.Join(log, "\n"), strings.Join(s.want, "\n"))
		}
	}
}

func TestICO(t *testing.T) {
	small, large := assets.Tray(control.StateOnline, false, true), assets.Tray2x(control.StateOnline, false, true)
	b, err := ico(small, large)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if le.Uint16(b[0:]) != 0 || le.Uint16(b[2:]) != 1 || le.Uint16(b[4:]) != 2 {
		t.Fatalf("header % x", b[:6])
	}
	for i, want := range [][]byte{small, large} {
		e := b[6+16*i:]
		w, h := int(e[0]), int(e[1])
		size, off := le.Uint32(e[8:]), le.Uint32(e[12:])
		if le.Uint16(e[4:]) != 1 || le.Uint16(e[6:]) != 32 {
			t.Errorf("entry %d: planes %d, bpp %d", i, le.Uint16(e[4:]), le.Uint16(e[6:]))
		}
		if int(off)+int(size) > len(b) || !bytes.Equal(b[off:off+size], want) {
			t.Fatalf("entry %d: %d bytes at %d do not hold its PNG", i, size, off)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(b[off : off+size]))
		if err != nil || cfg.Width != w || cfg.Height != h {
			t.Errorf("entry %d says %d×%d, its PNG is %d×%d (%v)", i, w, h, cfg.Width, cfg.Height, err)
		}
	}
	if _, err := ico(); err == nil {
		t.Error("an ICO of nothing")
	}
	if _, err := ico([]byte("not a png")); err == nil {
		t.Error("an ICO of something not a PNG")
	}
}

func TestIconBytes(t *testing.T) {
	c := Icon{State: control.StateOnline, DND: true}
	for _, goos := range []string{"linux", "freebsd", "darwin"} {
		b, err := iconBytes(goos, c)
		if err != nil || !bytes.Equal(b, assets.Tray2x(c.State, c.DND, c.Unread)) {
			t.Errorf("%s: not the @2x PNG (%v)", goos, err)
		}
	}
	b, err := iconBytes("windows", c)
	if err != nil || len(b) < 6 || binary.LittleEndian.Uint16(b[4:]) != 2 {
		t.Errorf("windows: not an ICO of two images (%v)", err)
	}
}
