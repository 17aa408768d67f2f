//go:build !darwin && !windows

package toast

import (
	"context"
	"fmt"

	"github.com/gen2brain/beeep"
)

// beeepNotifier shows toasts through github.com/gen2brain/beeep, which
// posts no actions: no clicks come back.
type beeepNotifier struct {
	icon string
}

func newBeeep(appName, iconPath string) *beeepNotifier {
	// beeep keeps the application name in a package variable.
	beeep.AppName = appName
	return &beeepNotifier{icon: iconPath}
}

// show posts t. beeep takes no context; on Linux it may try D-Bus,
// notify-send and kdialog in turn.
func (b *beeepNotifier) show(ctx context.Context, t Toast) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("toast: %w", err)
	}
	if err := beeep.Notify(t.Title, t.Body, b.icon); err != nil {
		return fmt.Errorf("toast: beeep: %w", err)
	}
	return nil
}
