package control

import (
	"context"
	"errors"
	"time"
)

// State is the agent's connection state as the user sees it.
type State string

// States.
const (
	StateOnline     State = "online"
	StateConnecting State = "connecting"
	StateOffline    State = "offline"
	// StateNoAccount means no account is configured yet.
	StateNoAccount State = "no-account"
)

// Status is what the tray shows.
type Status struct {
	State State  `json:"state"`
	JID   string `json:"jid,omitempty"` // bound full JID when online
	// Reason says, in plain words, why the agent is offline
	// ("Wrong user name or password.").
	Reason string `json:"reason,omitempty"`
	// DNDUntil is when do-not-disturb ends; zero when it is off.
	DNDUntil time.Time `json:"dnd_until,omitzero"`
	Unread   int       `json:"unread"`
	// Demo is set while the agent runs the local demo server.
	Demo *Demo `json:"demo,omitempty"`
}

// Demo describes the local demo server.
type Demo struct {
	Console       string `json:"console"`
	AdminPassword string `json:"admin_password"`
}

// Account is the account configuration (never the password).
type Account struct {
	Server        string `json:"server"` // host:port, "" for DNS SRV
	JID           string `json:"jid"`
	InsecurePlain bool   `json:"insecure_plain,omitempty"`
	PushService   string `json:"push_service,omitempty"`
}

// Settings are the user's preferences.
type Settings struct {
	StartAtLogin bool `json:"start_at_login"`
	// Muted lists servers (domains) whose notifications go to the history
	// silently, without a toast.
	Muted []string `json:"muted,omitempty"`
	// HistoryMax and HistoryDays are the history's retention.
	HistoryMax  int `json:"history_max"`
	HistoryDays int `json:"history_days"`
}

// Agent is what the other processes may ask the running agent.
type Agent interface {
	// Status returns the agent's status. The agent reads the unread count
	// from the history file afresh for it: a window that changed the
	// history calls Status to have the tray show the new count.
	Status(ctx context.Context) (Status, error)
	// SetDND turns do-not-disturb on until the given time, or off with
	// the zero time.
	SetDND(ctx context.Context, until time.Time) error
	Account(ctx context.Context) (Account, error)
	// SaveAccount stores the account, with its password in the keyring
	// (generated when empty and create is set), registers it in-band
	// when create is set, and reconnects.
	SaveAccount(ctx context.Context, a Account, password string, create bool) error
	Settings(ctx context.Context) (Settings, error)
	SaveSettings(ctx context.Context, s Settings) error
	// Open opens the link of a history entry in the browser (the caller
	// has confirmed an unsafe one). It marks the entry read.
	Open(ctx context.Context, key string) error
	// Show asks the agent to open a window: "history", "account" or
	// "settings" (a second start of xpush sends "history").
	Show(ctx context.Context, window string) error
}

// Windows the agent can show.
const (
	WindowHistory  = "history"
	WindowAccount  = "account"
	WindowSettings = "settings"
)

// ErrNotRunning is returned by a client when no agent is running.
var ErrNotRunning = errors.New("control: no xpush agent is running")
