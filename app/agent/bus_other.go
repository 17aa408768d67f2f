//go:build !linux

package agent

import (
	"context"
	"log/slog"
)

// watchSystemBus does nothing here: the sleep detector covers resume.
func watchSystemBus(context.Context, *slog.Logger, func()) {}
