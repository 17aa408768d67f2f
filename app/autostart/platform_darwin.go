package autostart

import "os"

func (e *Entry) backend() (backend, error) {
	dir, err := launchAgentsDir(e.opts, os.UserHomeDir)
	if err != nil {
		return nil, err
	}
	return launchdBackend{dir: dir}, nil
}
