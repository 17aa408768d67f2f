package agent

import (
	"testing"

	"github.com/godbus/dbus/v5"
)

func TestBusWake(t *testing.T) {
	var last uint32
	nm := func(state uint32) *dbus.Signal {
		return &dbus.Signal{Name: nmName + ".StateChanged", Body: []any{state}}
	}
	sleep := func(start bool) *dbus.Signal {
		return &dbus.Signal{Name: login1Iface + ".PrepareForSleep", Body: []any{start}}
	}
	for i, s := range []struct {
		sig  *dbus.Signal
		wake bool
	}{
		{nm(20), false}, // disconnected
		{nm(40), false}, // connecting
		{nm(70), true},  // connected (global)
		{nm(70), false}, // the same again
		{nm(60), true},  // site only: a different network
		{nm(70), true},
		{sleep(true), false},
		{sleep(false), true},
		{&dbus.Signal{Name: nmName + ".StateChanged", Body: []any{"70"}}, false},
		{&dbus.Signal{Name: "org.freedesktop.DBus.NameAcquired", Body: []any{":1.5"}}, false},
	} {
		if got := busWake(s.sig, &last) != ""; got != s.wake {
			t.Errorf("%d: %s %v: wake %v, want %v", i, s.sig.Name, s.sig.Body, got, s.wake)
		}
	}
}
