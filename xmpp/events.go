package xmpp

import (
	"github.com/xpush/xpush/xmpp/notification"
)

// State is the client's connection state.
type State uint8

// States of a Client, in the order a connection goes through them.
const (
	StateOffline State = iota
	StateConnecting
	StateOnline
)

func (s State) String() string {
	switch s {
	case StateOffline:
		return "offline"
	case StateConnecting:
		return "connecting"
	case StateOnline:
		return "online"
	}
	return "unknown"
}

// Event is what a Client reports on its events channel: a *StateChange, a
// *Notified or a *Registered.
type Event interface{ isEvent() }

// StateChange reports a new connection state. Err says why the client is
// offline (nil after a clean stop); Retry is false when the error is
// permanent and the client waits for Reconnect.
type StateChange struct {
	State State
	Err   error
	Retry bool
	// JID is the full JID bound when State is StateOnline.
	JID string
	// Resumed is set when an XEP-0198 session was resumed.
	Resumed bool
}

// Notified carries one notification. For a notification IQ, the client
// sends the acknowledgement after the event is on the channel.
type Notified struct {
	Notification *notification.Notification
}

// Registered reports that the client created its account in-band.
type Registered struct {
	JID string
}

func (*StateChange) isEvent() {}
func (*Notified) isEvent()    {}
func (*Registered) isEvent()  {}
