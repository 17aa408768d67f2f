//go:build unix && !darwin && !ios && !android

package autostart

import "os"

func (e *Entry) backend() (backend, error) {
	dir, err := xdgAutostartDir(e.opts, os.Getenv, os.UserHomeDir)
	if err != nil {
		return nil, err
	}
	return xdgBackend{dir: dir}, nil
}
