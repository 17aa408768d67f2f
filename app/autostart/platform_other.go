//go:build (!unix && !windows) || android

package autostart

import (
	"errors"
	"fmt"
	"runtime"
)

func (e *Entry) backend() (backend, error) {
	return nil, fmt.Errorf("autostart: not supported on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
