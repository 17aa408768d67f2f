package ui

import (
	"context"
	"errors"
	"fmt"
	"image"
	"net/url"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/xpush/xpush/app/history"
	"github.com/xpush/xpush/app/opener"
)

// History window limits.
const (
	// maxListed bounds the entries the list holds (the history's default
	// retention keeps that many).
	maxListed = history.DefaultMaxEntries
	// maxPendingJobs bounds the writes waiting for the worker.
	maxPendingJobs = 64
	// previewMaxWidth and previewMaxHeight bound the preview on screen.
	previewMaxWidth, previewMaxHeight = 420, 320
)

// historyView is the history window (the paper's "notification
// details"): the list, newest first, and the details of the selected
// entry.
type historyView struct {
	base

	// State of the main goroutine.
	entries  []history.Entry
	unread   int
	selected string // key of the entry in the details pane, "" for none
	selIdx   int    // its index in entries, -1 for none
	applying bool   // a reload is selecting, not the user
	pending  int    // writes submitted and not yet done
	loads    int    // lists applied, for tests
	query    string // the search typed, applied after the debounce
	timer    *time.Timer
	// preview state: the entry and link previewed, and a sequence
	// number so that a late result for another entry is dropped.
	previewKey, previewURI string
	previewSeq             int
	previewCancel          context.CancelFunc
	loadError              bool // status shows a load error

	// Widgets.
	search      *widget.Entry
	list        *widget.List
	empty       *widget.Label
	markAll     *widget.Button
	clear       *widget.Button
	status      *widget.Label
	placeholder *widget.Label
	details     *fyne.Container
	title       *widget.Label
	meta        *widget.Label
	message     *widget.Label
	link        *widget.Hyperlink
	open        *widget.Button
	read        *widget.Button
	del         *widget.Button
	preview     *canvas.Image
	previewNote *widget.Label

	// The worker's inputs.
	jobs chan func(context.Context) error
	kick chan struct{}
	qmu  sync.Mutex
	want string // the search the worker lists, under qmu
}

func newHistoryView(w fyne.Window, e *env) *historyView {
	h := &historyView{
		selIdx: -1,
		jobs:   make(chan func(context.Context) error, maxPendingJobs),
		kick:   make(chan struct{}, 1),
	}
	h.init(e, w)
	h.onClose(func() {
		if h.timer != nil {
			h.timer.Stop()
		}
	})
	w.SetTitle("xpush: notifications")
	w.SetContent(h.build())
	w.Resize(fyne.NewSize(900, 600))
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.work(h.ctx)
	}()
	return h
}

func (h *historyView) build() fyne.CanvasObject {
	h.search = widget.NewEntry()
	h.search.SetPlaceHolder("Search")
	h.search.OnChanged = h.searchChanged
	h.markAll = widget.NewButtonWithIcon("Mark all read", theme.ConfirmIcon(), h.markAllRead)
	h.clear = widget.NewButtonWithIcon("Clear…", theme.DeleteIcon(), h.confirmClear)
	h.markAll.Disable()
	h.clear.Disable()

	h.list = widget.NewList(
		func() int { return len(h.entries) },
		func() fyne.CanvasObject { return newRow() },
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id >= 0 && id < len(h.entries) {
				o.(*row).set(&h.entries[id], h.env.now())
			}
		},
	)
	h.list.OnSelected = h.selectedByUser
	h.empty = widget.NewLabel("Loading…")
	h.empty.Alignment = fyne.TextAlignCenter
	h.empty.Wrapping = fyne.TextWrapWord
	h.empty.Importance = widget.LowImportance

	h.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	h.title.Wrapping = fyne.TextWrapWord
	h.title.SizeName = theme.SizeNameSubHeadingText
	h.meta = widget.NewLabel("")
	h.meta.Importance = widget.LowImportance
	h.meta.Wrapping = fyne.TextWrapWord
	h.message = widget.NewLabel("")
	h.message.Wrapping = fyne.TextWrapWord
	h.message.Selectable = true
	h.link = widget.NewHyperlink("", nil)
	h.link.Wrapping = fyne.TextWrapBreak
	h.link.OnTapped = h.openSelected // never fyne's OpenURL: the same checks as Open
	h.open = widget.NewButtonWithIcon("Open", theme.ComputerIcon(), h.openSelected)
	h.open.Importance = widget.HighImportance
	h.read = widget.NewButtonWithIcon("Mark unread", theme.MailComposeIcon(), h.toggleRead)
	h.del = widget.NewButtonWithIcon("Delete", theme.DeleteIcon(), h.deleteSelected)
	h.preview = canvas.NewImageFromImage(nil)
	h.preview.FillMode = canvas.ImageFillContain
	h.preview.Hide()
	h.previewNote = widget.NewLabel("")
	h.previewNote.Importance = widget.LowImportance
	h.previewNote.Hide()

	h.details = container.NewBorder(
		container.NewVBox(h.title, h.meta, container.NewHBox(h.open, h.read, h.del)),
		nil, nil, nil,
		// The link may be long (up to opener.MaxLen): it scrolls with
		// the message.
		container.NewVScroll(container.NewVBox(h.link, h.message, h.previewNote, container.NewHBox(h.preview))),
	)
	h.details.Hide()
	h.placeholder = widget.NewLabel("Select a notification to see it here.")
	h.placeholder.Alignment = fyne.TextAlignCenter
	h.placeholder.Wrapping = fyne.TextWrapWord
	h.placeholder.Importance = widget.LowImportance

	h.status = widget.NewLabel("")
	h.status.Importance = widget.DangerImportance
	h.status.Wrapping = fyne.TextWrapWord
	h.status.Hide()

	top := container.NewBorder(nil, nil, nil, container.NewHBox(h.markAll, h.clear), h.search)
	// The wrapping labels sit at the top, full width: centred they
	// would get their minimum width, one letter.
	split := container.NewHSplit(
		container.NewStack(h.list, container.NewPadded(container.NewVBox(h.empty))),
		container.NewStack(container.NewPadded(container.NewVBox(h.placeholder)), container.NewPadded(h.details)),
	)
	split.Offset = 0.4
	return container.NewBorder(top, h.status, nil, nil, split)
}

// row is one line of the list: title and time, and the sender below.
type row struct {
	widget.BaseWidget
	title, when, from *widget.Label
}

func newRow() *row {
	r := &row{
		title: widget.NewLabel("Title"),
		when:  widget.NewLabel("00:00"),
		from:  widget.NewLabel("sender"),
	}
	r.title.Truncation = fyne.TextTruncateEllipsis
	r.from.Truncation = fyne.TextTruncateEllipsis
	r.from.SizeName = theme.SizeNameCaptionText
	r.ExtendBaseWidget(r)
	return r
}

func (r *row) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.New(&rowLayout{}, r.title, r.when, r.from))
}

// set shows e, bold while it is unread.
func (r *row) set(e *history.Entry, now time.Time) {
	r.title.TextStyle.Bold = !e.Read
	r.title.SetText(entryTitle(e))
	r.when.TextStyle.Bold = !e.Read
	r.when.SetText(shortTime(e.Received, now))
	r.from.SetText(e.From)
}

// rowLayout puts the title and the time on the first line (the time at
// its natural width on the right, the title truncated to the rest) and
// the sender on the second.
type rowLayout struct{}

func (*rowLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	title, when, from := objs[0], objs[1], objs[2]
	wm, tm, fm := when.MinSize(), title.MinSize(), from.MinSize()
	h1 := max(wm.Height, tm.Height)
	when.Resize(fyne.NewSize(wm.Width, h1))
	when.Move(fyne.NewPos(size.Width-wm.Width, 0))
	title.Resize(fyne.NewSize(max(size.Width-wm.Width, 0), h1))
	title.Move(fyne.NewPos(0, 0))
	from.Resize(fyne.NewSize(size.Width, fm.Height))
	from.Move(fyne.NewPos(0, h1-theme.Padding()))
}

func (*rowLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	title, when, from := objs[0].MinSize(), objs[1].MinSize(), objs[2].MinSize()
	return fyne.NewSize(title.Width+when.Width, max(title.Height, when.Height)+from.Height-theme.Padding())
}

func entryTitle(e *history.Entry) string {
	if t := strings.TrimSpace(e.Title); t != "" {
		return firstLine(t)
	}
	if m := strings.TrimSpace(e.Message); m != "" {
		return firstLine(m)
	}
	return "(no title)"
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i] + "…"
	}
	return s
}

// shortTime is a row's time: the clock time today, the date otherwise.
func shortTime(t, now time.Time) string {
	y, m, d := t.Date()
	ny, nm, nd := now.In(t.Location()).Date()
	switch {
	case y == ny && m == nm && d == nd:
		return t.Format("15:04")
	case y == ny:
		return t.Format("Jan 2, 15:04")
	}
	return t.Format("Jan 2, 2006")
}

// longTime is the time in the details pane.
func longTime(t time.Time) string {
	return t.Format("Monday, 2 January 2006, 15:04:05")
}

// work is the window's worker goroutine: it runs the writes in order,
// polls the history's version, and lists the entries again after a write
// or a change, once for any number of them. After writes it tells the
// agent, so that the tray's unread count follows without the agent
// polling the file.
func (h *historyView) work(ctx context.Context) {
	t := time.NewTicker(h.env.poll)
	defer t.Stop()
	last := int64(-1)
	dirty, wrote := true, false
	for {
		if dirty {
			dirty = false
			if h.runQueued(ctx) {
				wrote = true
			}
			if v, ok := h.load(ctx); ok {
				last = v
			}
			if wrote {
				wrote = false
				h.tellAgent(ctx)
			}
		}
		select {
		case <-ctx.Done():
			return
		case job := <-h.jobs:
			h.runJob(ctx, job)
			dirty, wrote = true, true
		case <-h.kick:
			dirty = true
		case <-t.C:
			v, err := h.env.hist.Version(ctx)
			if err != nil {
				dirty = true // load reports it
			} else if v != last {
				dirty = true
			}
		}
	}
}

// runQueued runs the writes already queued, so that one reload covers
// them all; it reports whether there were any.
func (h *historyView) runQueued(ctx context.Context) (ran bool) {
	for {
		select {
		case job := <-h.jobs:
			h.runJob(ctx, job)
			ran = true
		default:
			return ran
		}
	}
}

// tellAgent asks the agent for its status, which makes it read the
// unread count from the history file again (control.Agent.Status) and
// show it in the tray. An agent that does not answer is no error here:
// it reads the count when it next starts.
func (h *historyView) tellAgent(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, h.env.callTimeout)
	defer cancel()
	if _, err := h.env.agent.Status(ctx); err != nil && ctx.Err() == nil {
		h.env.log.Debug("history window: tell the agent about the change", "err", err)
	}
}

func (h *historyView) runJob(ctx context.Context, job func(context.Context) error) {
	err := job(ctx)
	if err != nil && ctx.Err() == nil && !errors.Is(err, history.ErrNotFound) {
		h.env.log.Warn("history window: write failed", "err", err)
	} else {
		err = nil
	}
	h.do(func() {
		h.pending--
		if err != nil {
			h.setStatus(err.Error(), false)
		}
	})
}

// load lists the entries for the current search and hands them to the
// main goroutine; it returns the version they are of.
func (h *historyView) load(ctx context.Context) (int64, bool) {
	h.qmu.Lock()
	q := h.want
	h.qmu.Unlock()
	// The version first: a change during List makes the next poll
	// reload again.
	v, err := h.env.hist.Version(ctx)
	var es []history.Entry
	var unread int
	if err == nil {
		es, err = h.env.hist.List(ctx, history.Query{Search: q, Limit: maxListed})
	}
	if err == nil {
		unread, err = h.env.hist.Unread(ctx)
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, false
		}
		h.env.log.Warn("history window: load failed", "err", err)
		h.do(func() { h.setStatus("Could not read the history: "+err.Error(), true) })
		return 0, false
	}
	h.do(func() { h.apply(q, es, unread) })
	return v, true
}

// setQuery asks the worker to list the entries for q. It may run on any
// goroutine.
func (h *historyView) setQuery(q string) {
	h.qmu.Lock()
	h.want = q
	h.qmu.Unlock()
	h.reload()
}

// reload asks the worker to list the entries again; requests that come
// while one is pending are one.
func (h *historyView) reload() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// apply shows the entries a load returned, keeping the selection when the
// selected entry is still listed.
func (h *historyView) apply(q string, es []history.Entry, unread int) {
	if h.pending > 0 {
		// A write is on its way; its reload brings the newer state, and
		// this one would undo what the user just did for a moment.
		return
	}
	if h.loadError {
		h.setStatus("", false)
	}
	h.entries, h.unread = es, unread
	h.loads++
	h.updateChrome(q)
	h.list.Refresh()
	idx := h.indexOf(h.selected)
	switch {
	case idx < 0 && h.selected != "":
		h.unselect()
	case idx >= 0 && idx != h.selIdx:
		h.applying = true
		h.selIdx = idx
		h.list.Select(idx)
		h.applying = false
		h.showDetails()
	case idx >= 0:
		h.showDetails()
	}
}

func (h *historyView) updateChrome(q string) {
	if h.unread > 0 {
		h.win.SetTitle(fmt.Sprintf("xpush: notifications (%d unread)", h.unread))
		h.markAll.Enable()
	} else {
		h.win.SetTitle("xpush: notifications")
		h.markAll.Disable()
	}
	wasEmpty := h.empty.Visible()
	defer func() {
		if h.empty.Visible() != wasEmpty {
			h.relayout()
		}
	}()
	switch {
	case len(h.entries) > 0:
		h.empty.Hide()
		h.clear.Enable()
	case strings.TrimSpace(q) != "":
		h.empty.SetText(fmt.Sprintf("No notification matches “%s”.", strings.TrimSpace(q)))
		h.empty.Show()
		h.clear.Enable() // other entries may exist
	default:
		h.empty.SetText("No notifications yet.")
		h.empty.Show()
		h.clear.Disable()
	}
}

func (h *historyView) indexOf(key string) int {
	if key == "" {
		return -1
	}
	for i := range h.entries {
		if h.entries[i].Key == key {
			return i
		}
	}
	return -1
}

// current returns the selected entry, or nil.
func (h *historyView) current() *history.Entry {
	if h.selIdx < 0 || h.selIdx >= len(h.entries) || h.entries[h.selIdx].Key != h.selected {
		return nil
	}
	return &h.entries[h.selIdx]
}

func (h *historyView) setStatus(msg string, fromLoad bool) {
	h.loadError = fromLoad && msg != ""
	if msg == h.status.Text {
		return
	}
	h.status.SetText(msg)
	if msg == "" {
		h.status.Hide()
	} else {
		h.status.Show()
	}
	h.relayout()
}

// submit queues a write for the worker, which reloads after it.
func (h *historyView) submit(job func(context.Context) error) {
	h.setStatus("", false)
	select {
	case h.jobs <- job:
		h.pending++
	default:
		h.setStatus("The history is busy; try again in a moment.", false)
	}
}

func (h *historyView) searchChanged(s string) {
	if h.timer != nil {
		h.timer.Stop()
	}
	h.timer = time.AfterFunc(h.env.debounce, func() { h.setQuery(s) })
	h.query = s
}

// selectedByUser is the list's OnSelected: show the entry and mark it
// read.
func (h *historyView) selectedByUser(id widget.ListItemID) {
	if h.applying || id < 0 || id >= len(h.entries) {
		return
	}
	h.selIdx = id
	e := &h.entries[id]
	h.selected = e.Key
	if !e.Read {
		h.setRead(id, true)
	}
	h.showDetails()
}

func (h *historyView) setRead(id int, read bool) {
	e := &h.entries[id]
	if e.Read == read {
		return
	}
	e.Read = read
	if read {
		h.unread = max(h.unread-1, 0)
	} else {
		h.unread++
	}
	h.list.RefreshItem(id)
	h.updateChrome(h.query)
	key := e.Key
	h.submit(func(ctx context.Context) error { return h.env.hist.SetRead(ctx, key, read) })
}

func (h *historyView) unselect() {
	h.selected, h.selIdx = "", -1
	h.applying = true
	h.list.UnselectAll()
	h.applying = false
	h.showDetails()
}

// showDetails fills the details pane from the selected entry.
func (h *historyView) showDetails() {
	e := h.current()
	if e == nil {
		h.stopPreview()
		h.details.Hide()
		h.placeholder.Show()
		return
	}
	h.placeholder.Hide()
	h.details.Show()
	h.title.SetText(entryTitle(e))
	meta := longTime(e.Received)
	if e.From != "" {
		meta = "From " + e.From + " · " + meta
	}
	h.meta.SetText(meta)
	h.message.SetText(e.Message)
	if e.URI == "" {
		h.link.Hide()
		h.open.Disable()
	} else {
		h.link.SetText(e.URI)
		h.link.URL, _ = url.Parse(e.URI) // unused: OnTapped opens
		h.link.Show()
		h.open.Enable()
	}
	if e.Read {
		h.read.SetText("Mark unread")
		h.read.SetIcon(theme.MailComposeIcon())
	} else {
		h.read.SetText("Mark read")
		h.read.SetIcon(theme.ConfirmIcon())
	}
	h.startPreview(e)
	// A wrapped link's height is known once it has its width: lay the
	// pane out again.
	h.details.Refresh()
}

func (h *historyView) toggleRead() {
	if e := h.current(); e != nil {
		h.setRead(h.selIdx, !e.Read)
		h.showDetails()
	}
}

func (h *historyView) markAllRead() {
	for i := range h.entries {
		h.entries[i].Read = true
	}
	h.unread = 0
	h.list.Refresh()
	h.updateChrome(h.query)
	h.showDetails()
	h.submit(h.env.hist.MarkAllRead)
}

func (h *historyView) deleteSelected() {
	e := h.current()
	if e == nil {
		return
	}
	key, read := e.Key, e.Read
	h.entries = append(h.entries[:h.selIdx:h.selIdx], h.entries[h.selIdx+1:]...)
	if !read {
		h.unread = max(h.unread-1, 0)
	}
	h.unselect()
	h.list.Refresh()
	h.updateChrome(h.query)
	h.submit(func(ctx context.Context) error { return h.env.hist.Delete(ctx, key) })
}

func (h *historyView) confirmClear() {
	d := dialog.NewConfirm("Clear the history?",
		"This deletes every notification in the history. It cannot be undone.",
		func(ok bool) {
			if !ok {
				return
			}
			h.entries, h.unread = nil, 0
			h.unselect()
			h.list.Refresh()
			h.updateChrome("")
			h.submit(h.env.hist.Clear)
		}, h.win)
	d.SetConfirmText("Clear")
	d.SetDismissText("Cancel")
	d.SetConfirmImportance(widget.DangerImportance)
	d.Show()
}

// openSelected opens the selected entry's link: a web link at once, any
// other only after the user confirmed it.
func (h *historyView) openSelected() {
	e := h.current()
	if e == nil || e.URI == "" {
		return
	}
	key, uri := e.Key, e.URI
	err := opener.Check(uri)
	if err == nil {
		h.callOpen(key)
		return
	}
	why := "This is not a web link: it does not start with http:// or https://. " +
		"Opening it may start another program on this computer."
	if errors.Is(err, opener.ErrMalformed) {
		why = "This is not an ordinary web link: it may hide where it leads. " +
			"Opening it may start another program on this computer."
	}
	text := widget.NewLabel(why + " Open it only if you trust the sender.")
	text.Wrapping = fyne.TextWrapWord
	link := widget.NewLabel(uri)
	link.Wrapping = fyne.TextWrapBreak
	link.Selectable = true
	link.TextStyle.Monospace = true
	content := container.NewVBox(text, link)
	d := dialog.NewCustomConfirm("Open this link?", "Open", "Cancel", content, func(ok bool) {
		if ok {
			h.callOpen(key)
		}
	}, h.win)
	d.SetConfirmImportance(widget.DangerImportance)
	d.Resize(fyne.NewSize(480, 0))
	d.Show()
}

// callOpen asks the agent to open the entry's link; the agent marks it
// read.
func (h *historyView) callOpen(key string) {
	if i := h.indexOf(key); i >= 0 && !h.entries[i].Read {
		h.setRead(i, true)
		h.showDetails()
	}
	h.async(func(ctx context.Context) func() {
		err := h.env.agent.Open(ctx, key)
		if err == nil {
			return nil
		}
		h.env.log.Warn("history window: open failed", "err", err)
		return func() { h.setStatus("Could not open the link: "+userMessage(err), false) }
	})
}

// startPreview fetches the picture the entry links to, if its link is an
// http(s) link, in a goroutine; the result is shown if the entry is still
// the one shown.
func (h *historyView) startPreview(e *history.Entry) {
	if e.Key == h.previewKey && e.URI == h.previewURI {
		return
	}
	h.stopPreview()
	h.previewKey, h.previewURI = e.Key, e.URI
	if e.URI == "" || opener.Check(e.URI) != nil {
		return // never fetch anything but http(s)
	}
	hinted := looksLikeImage(e.URI)
	if hinted {
		h.previewNote.SetText("Loading the picture…")
		h.previewNote.Show()
	}
	ctx, cancel := context.WithCancel(h.ctx)
	h.previewCancel = cancel
	seq, uri := h.previewSeq, e.URI
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer cancel()
		img, err := fetchPreview(ctx, h.env.preview, uri)
		if ctx.Err() != nil {
			return
		}
		h.do(func() { h.showPreview(seq, hinted, img, err) })
	}()
}

func (h *historyView) showPreview(seq int, hinted bool, img image.Image, err error) {
	if seq != h.previewSeq {
		return
	}
	if err != nil {
		if hinted {
			msg := "No preview: the picture could not be loaded."
			if errors.Is(err, errPreviewTooLarge) {
				msg = "No preview: the picture is too large."
			}
			h.previewNote.SetText(msg)
			h.previewNote.Show()
		} else {
			h.previewNote.Hide()
		}
		return
	}
	h.previewNote.Hide()
	b := img.Bounds()
	w, ht := float32(b.Dx()), float32(b.Dy())
	if s := min(previewMaxWidth/w, previewMaxHeight/ht, 1); s < 1 {
		w, ht = w*s, ht*s
	}
	h.preview.Image = img
	h.preview.SetMinSize(fyne.NewSize(w, ht))
	h.preview.Show()
	h.details.Refresh() // lays the pane out again for the new size
}

// stopPreview cancels a fetch and hides the preview.
func (h *historyView) stopPreview() {
	if h.previewCancel != nil {
		h.previewCancel()
		h.previewCancel = nil
	}
	h.previewSeq++
	h.previewKey, h.previewURI = "", ""
	h.preview.Image = nil
	h.preview.Hide()
	h.previewNote.Hide()
}
