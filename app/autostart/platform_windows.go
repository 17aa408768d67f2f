package autostart

import (
	"errors"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// The Run key, whose values the shell starts at login, and the key where
// Task Manager's Startup page records that the user disabled one.
const (
	runKey      = `Software\Microsoft\Windows\CurrentVersion\Run`
	approvedKey = `Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run`
	valueName   = "xpush"
)

func (e *Entry) backend() (backend, error) {
	return registryBackend{run: runKey, approved: approvedKey}, nil
}

// registryBackend keeps the entry as a value of a Run key under
// HKEY_CURRENT_USER.
type registryBackend struct {
	run, approved string // key paths under HKEY_CURRENT_USER
}

func (b registryBackend) enabled() (bool, error) {
	k, err := registry.OpenKey(registry.CURRENT_USER, b.run, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer k.Close()
	if _, _, err := k.GetValue(valueName, nil); errors.Is(err, registry.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return !b.disabledByUser(), nil
}

// disabledByUser reports whether Task Manager marked the value disabled:
// its StartupApproved twin's first byte is odd (2 on, 3 off) then.
func (b registryBackend) disabledByUser() bool {
	k, err := registry.OpenKey(registry.CURRENT_USER, b.approved, registry.QUERY_VALUE)
	if err != nil {
		return false
	}
	defer k.Close()
	v, _, err := k.GetBinaryValue(valueName)
	return err == nil && len(v) > 0 && v[0]&1 == 1
}

func (b registryBackend) enable(exe string, args []string) error {
	k, _, err := registry.CreateKey(registry.CURRENT_USER, b.run, registry.SET_VALUE)
	if err != nil {
		return err
	}
	defer k.Close()
	if err := k.SetStringValue(valueName, windows.ComposeCommandLine(append([]string{exe}, args...))); err != nil {
		return err
	}
	return b.clearApproval()
}

func (b registryBackend) disable() error {
	k, err := registry.OpenKey(registry.CURRENT_USER, b.run, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return b.clearApproval()
	}
	if err != nil {
		return err
	}
	defer k.Close()
	if err := k.DeleteValue(valueName); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return err
	}
	return b.clearApproval()
}

// clearApproval forgets Task Manager's mark, so that an entry the user
// enables here runs.
func (b registryBackend) clearApproval() error {
	k, err := registry.OpenKey(registry.CURRENT_USER, b.approved, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer k.Close()
	if err := k.DeleteValue(valueName); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return err
	}
	return nil
}
