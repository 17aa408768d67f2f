// Package ui is the tray agent's windows: the notification history, the
// account and the settings, built with Fyne. Besides app/tray it is the
// only package that imports Fyne.
//
// The windows run in a child process (`xpush window NAME`), started by the
// agent on demand and gone when the window is closed, so that the agent
// itself never runs the Fyne driver while idle. [Run] is that process's
// whole user interface: it creates the Fyne app, opens one window and
// returns when the window is closed. The windows talk to the agent through
// control.Agent alone and read the history from the shared SQLite file
// (history.Store); [NewWindow] builds a window on an existing fyne.App.
//
// # Threads
//
// Widgets are touched only on the Fyne main goroutine. Work that may block
// (the agent's local socket, SQLite writes that wait for the agent's write
// lock, the image preview's HTTP fetch) runs in goroutines owned by the
// window: each gets the window's context, cancelled when the window
// closes, and hands its result back as a function that the window's
// scheduler runs on the main goroutine with fyne.Do. The scheduler drops
// work that arrives after the window closed (fyne.Do after the driver has
// stopped would panic). Tests swap fyne.Do for a queue that the test
// goroutine drains, so the same code runs headless under -race.
//
// The history window polls history.Store.Version once a second in its
// worker goroutine, which also runs the window's writes in order; a change
// (or a burst of them) leads to one reload of the list.
package ui
