//go:build unix && !darwin

package toast

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/esiqveland/notify"
	"github.com/godbus/dbus/v5"
)

// The freedesktop notification service, as the Desktop Notifications
// Specification names it.
const (
	fdoName   = "org.freedesktop.Notifications"
	fdoPath   = dbus.ObjectPath("/org/freedesktop/Notifications")
	fdoIface  = "org.freedesktop.Notifications"
	sigAction = fdoIface + ".ActionInvoked"
	sigClosed = fdoIface + ".NotificationClosed"

	// defaultAction is the action a click on the toast's body invokes.
	// Exactly one action, keyed "default": with two actions and none keyed
	// default, dunst opens a menu instead of acting on a click.
	defaultAction = "default"
)

// Timing of the D-Bus backend.
const (
	// dialTimeout bounds connecting and authenticating to the session bus
	// and asking the notification server who it is.
	dialTimeout = 5 * time.Second
	// callTimeout bounds each method call when the caller's ctx does not.
	callTimeout = 10 * time.Second
	// redialInterval is how long a failed connection is not retried; in
	// between, toasts go to the fallback. The notification daemon may start
	// after the agent at login, so the backend keeps trying.
	redialInterval = time.Minute
	// signalQueue is the buffer between godbus and the signal loop.
	signalQueue = 64
)

// bus is what the D-Bus backend needs from a session-bus connection to the
// notification server; the real one is *sessionBus, tests fake it.
type bus interface {
	// Notify calls org.freedesktop.Notifications.Notify and returns the id.
	Notify(ctx context.Context, n notify.Notification) (uint32, error)
	// CloseNotification calls org.freedesktop.Notifications.CloseNotification.
	CloseNotification(ctx context.Context, id uint32) error
	// Owner returns the unique bus name that owns org.freedesktop.Notifications.
	Owner(ctx context.Context) (string, error)
	// Signals delivers the signals the connection receives; it is closed
	// when the connection closes.
	Signals() <-chan *dbus.Signal
	// Close closes the connection, and so Signals.
	Close() error
}

// server is what the notification server said about itself when we
// connected.
type server struct {
	info notify.ServerInformation
	caps []string
}

func (s server) has(cap string) bool { return slices.Contains(s.caps, cap) }

// dialFunc connects to the session bus and the notification server.
type dialFunc func(ctx context.Context) (bus, server, error)

// fallbackFunc shows a toast some other way, without clicks.
type fallbackFunc func(ctx context.Context, t Toast) error

// dbusNotifier posts through org.freedesktop.Notifications on one
// long-lived private session-bus connection (ActionInvoked is sent only to
// the connection that posted) and turns ActionInvoked on its own
// notifications into clicks. When no session bus or no notification server
// can be reached it shows toasts through fallback, and tries D-Bus again
// after redialInterval.
type dbusNotifier struct {
	appName, icon string
	log           *slog.Logger
	dial          dialFunc
	fallback      fallbackFunc
	clicks        *clickSink
	now           func() time.Time

	mu       sync.Mutex
	closed   bool
	b        bus      // nil when not connected
	srv      server   // of b
	ids      *tracker // ids posted on b
	retryAt  time.Time
	dialErr  error
	degraded bool // the last dial failed, and that was logged

	loops sync.WaitGroup // signal loops, one per connection
}

func newDBus(appName, icon string, log *slog.Logger, dial dialFunc, fallback fallbackFunc) *dbusNotifier {
	return &dbusNotifier{
		appName:  appName,
		icon:     icon,
		log:      log,
		dial:     dial,
		fallback: fallback,
		clicks:   newClickSink(log),
		now:      time.Now,
		ids:      newTracker(maxTracked),
	}
}

func (n *dbusNotifier) Clicks() <-chan string { return n.clicks.ch }

// Show posts t through D-Bus, or through the fallback when D-Bus is not
// available.
func (n *dbusNotifier) Show(ctx context.Context, t Toast) error {
	t = cleaned(t)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	b, srv, err := n.connectLocked(ctx)
	if err != nil {
		n.mu.Unlock()
		if ferr := n.fallback(ctx, t); ferr != nil {
			return fmt.Errorf("toast: %w; fallback: %w", err, ferr)
		}
		return nil
	}
	// The lock is held across the call, so that the signal loop, which
	// also takes it, cannot see this id's ActionInvoked before add.
	ctx, cancel := withDefaultTimeout(ctx, callTimeout)
	defer cancel()
	id, err := b.Notify(ctx, n.message(t, srv))
	if err != nil {
		n.mu.Unlock()
		return fmt.Errorf("toast: notify: %w", err)
	}
	n.ids.add(id, t.Key)
	n.mu.Unlock()
	n.log.Debug("toast: posted", "id", id, "key", t.Key)
	return nil
}

// message builds the Notify call for t.
func (n *dbusNotifier) message(t Toast, srv server) notify.Notification {
	body := t.Body
	if srv.has("body-markup") {
		body = markupEscaper.Replace(body)
	}
	label := "Show"
	if t.HasLink {
		label = "Open"
	}
	m := notify.Notification{
		AppName:       n.appName,
		AppIcon:       n.icon,
		Summary:       t.Title,
		Body:          body,
		Actions:       []notify.Action{{Key: defaultAction, Label: label}},
		ExpireTimeout: notify.ExpireTimeoutSetByNotificationServer,
	}
	m.SetUrgency(notify.UrgencyNormal)
	return m
}

// markupEscaper escapes text for a server that reads the body as markup
// (the "body-markup" capability); the summary is plain text by the spec.
var markupEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// connectLocked returns the current connection, dialling one if there is
// none and the last failure is old enough. n.mu is held.
func (n *dbusNotifier) connectLocked(ctx context.Context) (bus, server, error) {
	if n.b != nil {
		return n.b, n.srv, nil
	}
	if n.dialErr != nil && n.now().Before(n.retryAt) {
		return nil, server{}, n.dialErr
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	b, srv, err := n.dial(dctx)
	if err != nil {
		n.dialErr = fmt.Errorf("no D-Bus notification service: %w", err)
		n.retryAt = n.now().Add(redialInterval)
		if !n.degraded {
			n.degraded = true
			n.log.Warn("toast: no D-Bus notification service; showing toasts without click-through until it appears",
				"err", err)
		}
		return nil, server{}, n.dialErr
	}
	n.dialErr = nil
	n.degraded = false
	n.b, n.srv = b, srv
	n.ids.reset()
	n.log.Info("toast: posting through D-Bus",
		"server", srv.info.Name, "vendor", srv.info.Vendor, "version", srv.info.Version,
		"capabilities", strings.Join(srv.caps, ","))
	if !srv.has("actions") {
		n.log.Warn("toast: the notification server does not support actions; clicks will not come back",
			"server", srv.info.Name)
	}
	n.loops.Add(1)
	go n.loop(b)
	return b, srv, nil
}

// loop reads b's signals until b closes. It is owned by n: Close closes b
// and waits for it.
func (n *dbusNotifier) loop(b bus) {
	defer n.loops.Done()
	var owner string // unique name of the notification server, looked up lazily
	for sig := range b.Signals() {
		ev, ok := parseSignal(sig)
		if !ok {
			continue
		}
		if sig.Sender != owner {
			// Unicast signals reach us whatever the match rules say: accept
			// them only from the current owner of the well-known name.
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			o, err := b.Owner(ctx)
			cancel()
			if err != nil || sig.Sender != o {
				n.log.Debug("toast: ignoring signal from a non-owner", "sender", sig.Sender, "owner", o, "err", err)
				continue
			}
			owner = o
		}
		n.handle(b, ev)
	}
	n.mu.Lock()
	if n.b == b {
		n.b = nil
		n.ids.reset()
		if !n.closed {
			n.log.Warn("toast: D-Bus connection lost")
		}
	}
	n.mu.Unlock()
}

// event is one parsed signal: an action invoked or a notification closed.
type event struct {
	id     uint32
	action string        // ActionInvoked
	closed bool          // NotificationClosed
	reason notify.Reason // NotificationClosed
}

// parseSignal checks a signal's shape before reading it: a session-bus
// peer can send anything.
func parseSignal(sig *dbus.Signal) (event, bool) {
	if sig == nil || sig.Path != fdoPath || len(sig.Body) < 2 {
		return event{}, false
	}
	id, ok := sig.Body[0].(uint32)
	if !ok {
		return event{}, false
	}
	switch sig.Name {
	case sigAction:
		action, ok := sig.Body[1].(string)
		return event{id: id, action: action}, ok
	case sigClosed:
		reason, ok := sig.Body[1].(uint32)
		return event{id: id, closed: true, reason: notify.Reason(reason)}, ok
	}
	return event{}, false
}

func (n *dbusNotifier) handle(b bus, ev event) {
	n.mu.Lock()
	if n.b != b { // a stale loop after a reconnection
		n.mu.Unlock()
		return
	}
	key, ours := n.ids.key(ev.id)
	if ev.closed {
		n.ids.remove(ev.id)
	}
	n.mu.Unlock()
	switch {
	case !ours:
		// Another application's notification: broadcast signals reach
		// every connection that listens.
	case ev.closed:
		n.log.Debug("toast: closed", "id", ev.id, "key", key, "reason", ev.reason.String())
	case ev.action == defaultAction:
		n.log.Debug("toast: clicked", "id", ev.id, "key", key)
		n.clicks.send(key)
		// The click used the toast up. Most servers close it themselves;
		// dunst does not when the action comes from dunstctl or its menu.
		// Closing twice is harmless: the answer is at most an error.
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		if err := b.CloseNotification(ctx, ev.id); err != nil {
			n.log.Debug("toast: CloseNotification after click", "id", ev.id, "err", err)
		}
		cancel()
	}
}

// Close closes the D-Bus connection, waits for the signal loop to end and
// closes Clicks.
func (n *dbusNotifier) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	b := n.b
	n.b = nil
	n.mu.Unlock()
	var err error
	if b != nil {
		err = b.Close()
	}
	n.loops.Wait()
	n.clicks.close()
	if err != nil {
		return fmt.Errorf("toast: close: %w", err)
	}
	return nil
}

func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// sessionBus is a private connection to the session bus, used for nothing
// but notifications.
type sessionBus struct {
	conn *dbus.Conn
	obj  dbus.BusObject
	sigs chan *dbus.Signal
}

// dialSession returns a dialFunc for the session bus at address, or, when
// address is empty, at $DBUS_SESSION_BUS_ADDRESS or $XDG_RUNTIME_DIR/bus.
// It never autolaunches a bus (dbus-launch): no bus means no D-Bus toasts.
func dialSession(address string) dialFunc {
	return func(ctx context.Context) (bus, server, error) {
		var (
			conn *dbus.Conn
			err  error
		)
		if address == "" {
			conn, err = dbus.SessionBusPrivateNoAutoStartup()
		} else {
			conn, err = dbus.Dial(address)
		}
		if err != nil {
			return nil, server{}, err
		}
		b, srv, err := setup(ctx, conn)
		if err != nil {
			conn.Close()
			return nil, server{}, err
		}
		return b, srv, nil
	}
}

// setup authenticates conn, asks the notification server who it is (which
// starts it if the bus can activate it) and subscribes to its signals.
func setup(ctx context.Context, conn *dbus.Conn) (*sessionBus, server, error) {
	// Auth and Hello take no context: closing the connection is what
	// unblocks them.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	err := conn.Auth(nil)
	if err == nil {
		err = conn.Hello()
	}
	if !stop() {
		return nil, server{}, fmt.Errorf("session bus: %w", context.Cause(ctx))
	}
	if err != nil {
		return nil, server{}, fmt.Errorf("session bus: %w", err)
	}
	b := &sessionBus{
		conn: conn,
		obj:  conn.Object(fdoName, fdoPath),
		sigs: make(chan *dbus.Signal, signalQueue),
	}
	var srv server
	i := &srv.info
	if err := b.obj.CallWithContext(ctx, fdoIface+".GetServerInformation", 0).
		Store(&i.Name, &i.Vendor, &i.Version, &i.SpecVersion); err != nil {
		return nil, server{}, fmt.Errorf("GetServerInformation: %w", err)
	}
	if err := b.obj.CallWithContext(ctx, fdoIface+".GetCapabilities", 0).Store(&srv.caps); err != nil {
		return nil, server{}, fmt.Errorf("GetCapabilities: %w", err)
	}
	// Broadcast signals need a match rule; the bus daemon matches the
	// well-known name against its current owner.
	if err := conn.AddMatchSignalContext(ctx,
		dbus.WithMatchSender(fdoName),
		dbus.WithMatchObjectPath(fdoPath),
		dbus.WithMatchInterface(fdoIface),
	); err != nil {
		return nil, server{}, fmt.Errorf("AddMatch: %w", err)
	}
	conn.Signal(b.sigs)
	return b, srv, nil
}

func (b *sessionBus) Notify(ctx context.Context, n notify.Notification) (uint32, error) {
	actions := make([]string, 0, 2*len(n.Actions))
	for _, a := range n.Actions {
		actions = append(actions, a.Key, a.Label)
	}
	hints := n.Hints
	if hints == nil {
		hints = map[string]dbus.Variant{}
	}
	var id uint32
	err := b.obj.CallWithContext(ctx, fdoIface+".Notify", 0,
		n.AppName, n.ReplacesID, n.AppIcon, n.Summary, n.Body, actions, hints,
		int32(n.ExpireTimeout.Milliseconds()),
	).Store(&id)
	return id, err
}

func (b *sessionBus) CloseNotification(ctx context.Context, id uint32) error {
	return b.obj.CallWithContext(ctx, fdoIface+".CloseNotification", 0, id).Store()
}

func (b *sessionBus) Owner(ctx context.Context) (string, error) {
	var owner string
	err := b.conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetNameOwner", 0, fdoName).Store(&owner)
	return owner, err
}

func (b *sessionBus) Signals() <-chan *dbus.Signal { return b.sigs }

func (b *sessionBus) Close() error { return b.conn.Close() }
