package agent

import (
	"context"
	"log/slog"

	"github.com/godbus/dbus/v5"
)

// NetworkManager's and logind's names on the system bus.
const (
	nmName      = "org.freedesktop.NetworkManager"
	nmPath      = "/org/freedesktop/NetworkManager"
	login1Name  = "org.freedesktop.login1"
	login1Path  = "/org/freedesktop/login1"
	login1Iface = "org.freedesktop.login1.Manager"
	// nmConnectedSite and nmConnectedGlobal are NMState values: the
	// network is up (a site or the internet reachable).
	nmConnectedSite   = 60
	nmConnectedGlobal = 70
)

// watchSystemBus calls wake when NetworkManager reports that the network
// came up, or logind that the machine resumed, until ctx ends. Without a
// system bus (containers, other init systems) it returns at once: the
// sleep detector still works.
func watchSystemBus(ctx context.Context, log *slog.Logger, wake func()) {
	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil {
		log.Debug("agent: no system bus; network and resume signals are not watched", "err", err)
		return
	}
	defer conn.Close()
	for _, m := range [][]dbus.MatchOption{
		{dbus.WithMatchSender(nmName), dbus.WithMatchObjectPath(nmPath), dbus.WithMatchInterface(nmName), dbus.WithMatchMember("StateChanged")},
		{dbus.WithMatchSender(login1Name), dbus.WithMatchObjectPath(login1Path), dbus.WithMatchInterface(login1Iface), dbus.WithMatchMember("PrepareForSleep")},
	} {
		if err := conn.AddMatchSignalContext(ctx, m...); err != nil {
			log.Debug("agent: system bus match", "err", err)
			return
		}
	}
	ch := make(chan *dbus.Signal, 16)
	conn.Signal(ch)
	log.Debug("agent: watching NetworkManager and logind on the system bus")
	var last uint32
	for {
		select {
		case <-ctx.Done():
			return
		case s, ok := <-ch:
			if !ok {
				return
			}
			if reason := busWake(s, &last); reason != "" {
				log.Info("agent: reconnecting", "because", reason)
				wake()
			}
		}
	}
}

// busWake says why s calls for a reconnect, or "" when it does not: the
// network reached a connected state it was not in, or the machine
// resumed. last is the previous network state.
func busWake(s *dbus.Signal, last *uint32) string {
	switch s.Name {
	case nmName + ".StateChanged":
		if len(s.Body) != 1 {
			return ""
		}
		st, ok := s.Body[0].(uint32)
		if !ok {
			return ""
		}
		prev := *last
		*last = st
		if (st == nmConnectedSite || st == nmConnectedGlobal) && st != prev {
			return "the network changed"
		}
	case login1Iface + ".PrepareForSleep":
		if len(s.Body) == 1 {
			if sleeping, ok := s.Body[0].(bool); ok && !sleeping {
				return "the machine resumed"
			}
		}
	}
	return ""
}
