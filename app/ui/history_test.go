package ui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/xpush/xpush/app/history"
)

type historyTest struct {
	t     *testing.T
	h     *historyView
	w     fyne.Window
	agent *fakeAgent
	hist  *history.Store
	path  string
	l     *loop
}

// sample is a history of three: one read with a web link, one unread
// without a link, the newest unread with a picture link.
func sample() []history.Entry {
	return []history.Entry{
		{
			Key: "iq:1", ID: "1", Title: "Build failed", Message: "main is red\nsince 11:02",
			URI: "https://ci.example.org/build/1", From: "ci@example.org", Kind: "iq",
			Received: t0.Add(-3 * time.Hour), Read: true,
		},
		{
			Key: "iq:2", ID: "2", Title: "Lunch", Message: "Pizza in the kitchen.",
			From: "office@example.org", Kind: "iq", Received: t0.Add(-time.Hour),
		},
		{
			Key: "iq:3", ID: "3", Title: "Photo of the day", Message: "Look at this one.",
			URI: "https://img.example.org/cat.png", From: "photos@example.org", Kind: "iq",
			Received: t0.Add(-10 * time.Minute),
		},
	}
}

// newHistoryTest opens a history holding entries and the history window
// on it, and waits for the first list.
func newHistoryTest(t *testing.T, entries ...history.Entry) *historyTest {
	t.Helper()
	a := test.NewTempApp(t)
	path := filepath.Join(t.TempDir(), "history.db")
	hist := openStore(t, path)
	for _, e := range entries {
		if added, err := hist.Add(context.Background(), e); err != nil || !added {
			t.Fatalf("Add(%s) = %v, %v", e.Key, added, err)
		}
	}
	agent := &fakeAgent{}
	e, l := newTestEnv(t, agent, hist)
	return startHistory(t, a, e, l, path)
}

func startHistory(t *testing.T, a fyne.App, e *env, l *loop, path string) *historyTest {
	t.Helper()
	w := a.NewWindow("")
	h := newHistoryView(w, e)
	w.Resize(fyne.NewSize(900, 600))
	closeView(t, w, &h.base)
	l.until(t, "the first list", func() bool { return h.loads > 0 })
	return &historyTest{t: t, h: h, w: w, agent: e.agent.(*fakeAgent), hist: e.hist, path: path, l: l}
}

// tapLink taps a hyperlink on its text (a tap beside it does nothing).
func tapLink(l *widget.Hyperlink) {
	test.TapAt(l, fyne.NewPos(theme.InnerPadding()+2, l.Size().Height/2))
}

func (ht *historyTest) keys() []string {
	var ks []string
	for _, e := range ht.h.entries {
		ks = append(ks, e.Key)
	}
	return ks
}

// selectKey selects the entry with key as a click on its row would.
func (ht *historyTest) selectKey(key string) {
	ht.t.Helper()
	i := ht.h.indexOf(key)
	if i < 0 {
		ht.t.Fatalf("%s is not listed: %v", key, ht.keys())
	}
	ht.h.list.Select(i)
}

func (ht *historyTest) stored(key string) history.Entry {
	ht.t.Helper()
	e, err := ht.hist.Get(context.Background(), key)
	if err != nil {
		ht.t.Fatalf("Get(%s): %v", key, err)
	}
	return e
}

// rowLabel returns the rendered title label of the row showing title.
func (ht *historyTest) rowLabel(title string) *widget.Label {
	ht.t.Helper()
	for _, o := range objects(ht.h.list) {
		if l, ok := o.(*widget.Label); ok && l.Text == title {
			return l
		}
	}
	ht.t.Fatalf("no row shows %q", title)
	return nil
}

func TestHistoryListNewestFirstUnreadBold(t *testing.T) {
	ht := newHistoryTest(t, sample()...)
	if got, want := ht.keys(), []string{"iq:3", "iq:2", "iq:1"}; !slices.Equal(got, want) {
		t.Fatalf("list = %v, want %v", got, want)
	}
	for title, bold := range map[string]bool{"Photo of the day": true, "Lunch": true, "Build failed": false} {
		if got := ht.rowLabel(title).TextStyle.Bold; got != bold {
			t.Errorf("row %q bold = %v, want %v", title, got, bold)
		}
	}
	// Each row shows the time and the sender too.
	rows := texts(ht.h.list)
	for _, want := range []string{"14:20", "13:30", "11:30", "photos@example.org", "office@example.org", "ci@example.org"} {
		if !strings.Contains(rows, want) {
			t.Errorf("rows lack %q:\n%s", want, rows)
		}
	}
	if got := ht.w.Title(); got != "xpush: notifications (2 unread)" {
		t.Errorf("title = %q", got)
	}
	if ht.h.markAll.Disabled() || ht.h.clear.Disabled() {
		t.Error("Mark all read or Clear disabled with unread entries")
	}
	assertMarkup(t, "history_list.xml", ht.w.Canvas())
}

func TestHistoryEmpty(t *testing.T) {
	ht := newHistoryTest(t)
	if !ht.h.empty.Visible() || ht.h.empty.Text != "No notifications yet." {
		t.Errorf("empty label %q visible=%v", ht.h.empty.Text, ht.h.empty.Visible())
	}
	if !ht.h.clear.Disabled() || !ht.h.markAll.Disabled() {
		t.Error("Clear or Mark all read enabled on an empty history")
	}
	if !ht.h.placeholder.Visible() || ht.h.details.Visible() {
		t.Error("details shown with nothing selected")
	}
}

func TestHistoryDetails(t *testing.T) {
	ht := newHistoryTest(t, sample()...)
	ht.selectKey("iq:1")
	h := ht.h
	if !h.details.Visible() || h.placeholder.Visible() {
		t.Fatal("details pane hidden after selecting")
	}
	if h.title.Text != "Build failed" {
		t.Errorf("title = %q", h.title.Text)
	}
	if h.message.Text != "main is red\nsince 11:02" {
		t.Errorf("message = %q", h.message.Text)
	}
	if want := "From ci@example.org · Saturday, 1 March 2025, 11:30:00"; h.meta.Text != want {
		t.Errorf("meta = %q, want %q", h.meta.Text, want)
	}
	if !h.link.Visible() || h.link.Text != "https://ci.example.org/build/1" {
		t.Errorf("link %q visible=%v", h.link.Text, h.link.Visible())
	}
	if h.open.Disabled() {
		t.Error("Open disabled for a web link")
	}
	if h.read.Text != "Mark unread" {
		t.Errorf("read button = %q", h.read.Text)
	}
	assertMarkup(t, "history_details.xml", ht.w.Canvas())

	// Another entry replaces it.
	ht.selectKey("iq:2")
	if h.title.Text != "Lunch" || h.message.Text != "Pizza in the kitchen." {
		t.Errorf("details show %q / %q", h.title.Text, h.message.Text)
	}
}

func TestHistorySelectingMarksRead(t *testing.T) {
	ht := newHistoryTest(t, sample()...)
	ht.selectKey("iq:3")
	if ht.rowLabel("Photo of the day").TextStyle.Bold {
		t.Error("the selected row is still bold")
	}
	ht.l.until(t, "iq:3 read in the history", func() bool { return ht.stored("iq:3").Read })
	ht.l.until(t, "the title to count one unread", func() bool {
		return ht.w.Title() == "xpush: notifications (1 unread)"
	})
	// The reload that follows keeps the selection and the details.
	ht.l.settle(60 * time.Millisecond)
	if ht.h.selected != "iq:3" || ht.h.title.Text != "Photo of the day" {
		t.Errorf("after reload: selected %q, title %q", ht.h.selected, ht.h.title.Text)
	}
}

// TestHistoryWriteTellsAgent: the window asks the agent for its status
// after each write, once the write is in the file, so that the agent reads
// the new unread count for the tray; a window that only reads does not.
func TestHistoryWriteTellsAgent(t *testing.T) {
	ht := newHistoryTest(t, sample()...)
	unread := make(chan int, 16)
	ht.agent.mu.Lock()
	ht.agent.onStatus = func() {
		n, err := ht.hist.Unread(context.Background())
		if err != nil {
			t.Error(err)
		}
		unread <- n
	}
	ht.agent.mu.Unlock()
	ht.l.settle(60 * time.Millisecond)
	select {
	case n := <-unread:
		t.Fatalf("the window asked the agent for its status (%d unread) without a write", n)
	default:
	}
	ht.selectKey("iq:3")
	var n int
	ht.l.until(t, "the agent asked for its status", func() bool {
		select {
		case n = <-unread:
			return true
		default:
			return false
		}
	})
	if n != 1 {
		t.Errorf("when the window asked the agent, the file had %d unread, want 1", n)
	}
}

func TestHistoryMarkReadUnread(t *testing.T) {
	ht := newHistoryTest(t, sample()...)
	ht.selectKey("iq:1")
	test.Tap(ht.h.read)
	ht.l.until(t, "iq:1 unread in the history", func() bool { return !ht.stored("iq:1").Read })
	if !ht.rowLabel("Build failed").TextStyle.Bold {
		t.Error("row not bold after Mark unread")
	}
	if ht.h.read.Text != "Mark read" {
		t.Errorf("button = %q after Mark unread", ht.h.read.Text)
	}
	// A reload does not select it again and so does not mark it read.
	ht.l.settle(60 * time.Millisecond)
	if ht.stored("iq:1").Read {
		t.Error("iq:1 read again after a reload")
	}
	test.Tap(ht.h.read)
	ht.l.until(t, "iq:1 read in the history", func() bool { return ht.stored("iq:1").Read })
	if ht.rowLabel("Build failed").TextStyle.Bold {
		t.Error("row bold after Mark read")
	}

	test.Tap(ht.h.markAll)
	ht.l.until(t, "all read", func() bool {
		n, err := ht.hist.Unread(context.Background())
		return err == nil && n == 0
	})
	for _, title := range []string{"Photo of the day", "Lunch", "Build failed"} {
		if ht.rowLabel(title).TextStyle.Bold {
			t.Errorf("row %q bold after Mark all read", title)
		}
	}
	ht.l.until(t, "Mark all read disabled", ht.h.markAll.Disabled)
}

func TestHistorySearch(t *testing.T) {
	ht := newHistoryTest(t, sample()...)
	test.Type(ht.h.search, "PIZZA kitchen")
	ht.l.until(t, "the search to list iq:2 alone", func() bool {
		return slices.Equal(ht.keys(), []string{"iq:2"})
	})
	ht.h.search.SetText("example.org/cat")
	ht.l.until(t, "the search to list iq:3 alone", func() bool {
		return slices.Equal(ht.keys(), []string{"iq:3"})
	})
	ht.h.search.SetText("nothing-like-this")
	ht.l.until(t, "an empty list", func() bool { return len(ht.h.entries) == 0 })
	if !ht.h.empty.Visible() || !strings.Contains(ht.h.empty.Text, "nothing-like-this") {
		t.Errorf("empty label %q visible=%v", ht.h.empty.Text, ht.h.empty.Visible())
	}
	ht.h.search.SetText("")
	ht.l.until(t, "the whole list", func() bool { return len(ht.h.entries) == 3 })
}

func TestHistorySearchDebounce(t *testing.T) {
	ht := newHistoryTest(t, sample()...)
	ht.h.env.debounce = 200 * time.Millisecond
	loads := ht.h.loads
	for _, s := range []string{"l", "lu", "lun", "lunc", "lunch"} {
		ht.h.search.SetText(s)
	}
	ht.l.until(t, "the search", func() bool { return slices.Equal(ht.keys(), []string{"iq:2"}) })
	ht.l.settle(50 * time.Millisecond)
	// One list for the five keystrokes (polls list nothing: the
	// version did not change).
	if n := ht.h.loads - loads; n != 1 {
		t.Errorf("%d lists for one burst of typing, want 1", n)
	}
}

func TestHistoryDelete(t *testing.T) {
	ht := newHistoryTest(t, sample()...)
	ht.selectKey("iq:2")
	test.Tap(ht.h.del)
	if got := ht.keys(); !slices.Equal(got, []string{"iq:3", "iq:1"}) {
		t.Errorf("list after delete = %v", got)
	}
	if ht.h.details.Visible() {
		t.Error("details still shown after delete")
	}
	ht.l.until(t, "iq:2 gone from the history", func() bool {
		_, err := ht.hist.Get(context.Background(), "iq:2")
		return errors.Is(err, history.ErrNotFound)
	})
	ht.l.settle(60 * time.Millisecond)
	if got := ht.keys(); !slices.Equal(got, []string{"iq:3", "iq:1"}) {
		t.Errorf("list after reload = %v", got)
	}
}

func TestHistoryClear(t *testing.T) {
	ht := newHistoryTest(t, sample()...)
	test.Tap(ht.h.clear)
	d := overlay(ht.w)
	if d == nil {
		t.Fatal("Clear shows no confirmation")
	}
	if got := texts(d); !strings.Contains(got, "cannot be undone") {
		t.Errorf("confirmation says:\n%s", got)
	}
	test.Tap(findButton(t, d, "Cancel"))
	ht.l.settle(60 * time.Millisecond)
	if n := len(ht.h.entries); n != 3 {
		t.Fatalf("%d entries after cancelling Clear", n)
	}
	if es, _ := ht.hist.List(context.Background(), history.Query{}); len(es) != 3 {
		t.Fatalf("history holds %d after cancelling Clear", len(es))
	}

	test.Tap(ht.h.clear)
	test.Tap(findButton(t, overlay(ht.w), "Clear"))
	ht.l.until(t, "an empty history", func() bool {
		es, err := ht.hist.List(context.Background(), history.Query{})
		return err == nil && len(es) == 0
	})
	ht.l.settle(60 * time.Millisecond)
	if len(ht.h.entries) != 0 || !ht.h.empty.Visible() {
		t.Errorf("after Clear: %d listed, empty label visible=%v", len(ht.h.entries), ht.h.empty.Visible())
	}
	if overlay(ht.w) != nil {
		t.Error("the confirmation is still shown")
	}
}

func TestHistoryOpenWebLink(t *testing.T) {
	ht := newHistoryTest(t, sample()...)
	ht.selectKey("iq:1")
	test.Tap(ht.h.open)
	if overlay(ht.w) != nil {
		t.Fatal("a web link asks for confirmation")
	}
	ht.l.until(t, "agent.Open(iq:1)", func() bool { return slices.Equal(ht.agent.openedKeys(), []string{"iq:1"}) })
	// The link itself opens the same way, never through fyne's OpenURL.
	tapLink(ht.h.link)
	ht.l.until(t, "a second agent.Open(iq:1)", func() bool { return len(ht.agent.openedKeys()) == 2 })
}

func TestHistoryOpenUnsafeLinkAsks(t *testing.T) {
	for _, uri := range []string{"javascript:alert(document.cookie)", "file:///etc/passwd"} {
		t.Run(uri, func(t *testing.T) {
			ht := newHistoryTest(t, history.Entry{
				Key: "iq:x", Title: "Click me", URI: uri,
				URIUnsafe: true, From: "mallory@example.org", Received: t0.Add(-time.Minute),
			})
			ht.selectKey("iq:x")
			if ht.h.open.Disabled() {
				t.Fatal("Open disabled for a link that can be opened after confirming")
			}
			test.Tap(ht.h.open)
			d := overlay(ht.w)
			if d == nil {
				t.Fatal("no confirmation")
			}
			said := texts(d)
			for _, want := range []string{uri, "not a web link"} {
				if !strings.Contains(said, want) {
					t.Errorf("confirmation lacks %q:\n%s", want, said)
				}
			}
			ht.l.settle(50 * time.Millisecond)
			if got := ht.agent.openedKeys(); len(got) != 0 {
				t.Fatalf("opened before confirming: %v", got)
			}
			test.Tap(findButton(t, d, "Cancel"))
			ht.l.settle(50 * time.Millisecond)
			if got := ht.agent.openedKeys(); len(got) != 0 {
				t.Fatalf("opened after cancelling: %v", got)
			}
			if overlay(ht.w) != nil {
				t.Fatal("confirmation still shown after Cancel")
			}

			tapLink(ht.h.link) // the link asks too
			d = overlay(ht.w)
			if d == nil {
				t.Fatal("the link opens without confirmation")
			}
			test.Tap(findButton(t, d, "Open"))
			ht.l.until(t, "agent.Open after confirming", func() bool {
				return slices.Equal(ht.agent.openedKeys(), []string{"iq:x"})
			})
		})
	}
}

func TestHistoryOpenMalformedWebLinkAsks(t *testing.T) {
	ht := newHistoryTest(t, history.Entry{
		Key: "iq:m", Title: "Odd",
		URI: "https://user:pw@example.org/", Received: t0.Add(-time.Minute),
	})
	ht.selectKey("iq:m")
	test.Tap(ht.h.open)
	d := overlay(ht.w)
	if d == nil {
		t.Fatal("a web link with credentials opens without confirmation")
	}
	if said := texts(d); !strings.Contains(said, "not an ordinary web link") {
		t.Errorf("confirmation says:\n%s", said)
	}
}

func TestHistoryNoLinkDisablesOpen(t *testing.T) {
	ht := newHistoryTest(t, sample()...)
	ht.selectKey("iq:2")
	if !ht.h.open.Disabled() {
		t.Error("Open enabled without a link")
	}
	if ht.h.link.Visible() {
		t.Error("link shown without a link")
	}
	test.Tap(ht.h.open)
	ht.l.settle(50 * time.Millisecond)
	if got := ht.agent.openedKeys(); len(got) != 0 {
		t.Errorf("opened %v", got)
	}
	// Back to an entry with a link: enabled again.
	ht.selectKey("iq:1")
	if ht.h.open.Disabled() || !ht.h.link.Visible() {
		t.Error("Open disabled or link hidden for a web link")
	}
}

func TestHistoryFollowsOtherProcess(t *testing.T) {
	ht := newHistoryTest(t, sample()...)
	ht.selectKey("iq:1")
	// The agent (another Store on the same file) adds a burst.
	agent := openStore(t, ht.path)
	for i := range 20 {
		e := history.Entry{
			Key: fmt.Sprintf("iq:new%d", i), Title: fmt.Sprintf("New %d", i),
			From: "ci@example.org", Received: t0.Add(time.Duration(i) * time.Second),
		}
		if _, err := agent.Add(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	ht.l.until(t, "the new entries", func() bool { return len(ht.h.entries) == 23 })
	if got := ht.h.entries[0].Key; got != "iq:new19" {
		t.Errorf("newest = %s", got)
	}
	// The selection moved with its entry.
	if ht.h.selected != "iq:1" || ht.h.entries[ht.h.selIdx].Key != "iq:1" || ht.h.title.Text != "Build failed" {
		t.Errorf("selection %q at %d, details %q", ht.h.selected, ht.h.selIdx, ht.h.title.Text)
	}
	// And a deletion there clears the details here.
	if err := agent.Delete(context.Background(), "iq:1"); err != nil {
		t.Fatal(err)
	}
	ht.l.until(t, "iq:1 to go", func() bool { return ht.h.indexOf("iq:1") < 0 })
	if ht.h.selected != "" || ht.h.details.Visible() {
		t.Error("details still shown for a deleted entry")
	}
}

func TestHistoryIdlePollDoesNotReload(t *testing.T) {
	ht := newHistoryTest(t, sample()...)
	loads := ht.h.loads
	ht.l.settle(150 * time.Millisecond) // several polls
	if ht.h.loads != loads {
		t.Errorf("%d reloads without a change", ht.h.loads-loads)
	}
}

func TestHistoryCloseStopsGoroutines(t *testing.T) {
	ht := newHistoryTest(t, sample()...)
	ht.w.Close()
	done := make(chan struct{})
	go func() {
		ht.h.wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the window's goroutines did not end after Close")
	}
	// Work that comes after the close is dropped.
	ht.h.do(func() { t.Error("ran after close") })
	ht.l.run()
}

func TestShortTime(t *testing.T) {
	now := time.Date(2025, 3, 1, 14, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{now.Add(-time.Hour), "13:30"},
		{time.Date(2025, 2, 28, 23, 59, 0, 0, time.UTC), "Feb 28, 23:59"},
		{time.Date(2024, 12, 31, 9, 0, 0, 0, time.UTC), "Dec 31, 2024"},
	} {
		if got := shortTime(c.t, now); got != c.want {
			t.Errorf("shortTime(%v) = %q, want %q", c.t, got, c.want)
		}
	}
}
