//go:build unix && !darwin

package toast

import "log/slog"

// newPlatform: D-Bus with click-through, beeep when D-Bus is unavailable.
func newPlatform(appName, iconPath string, log *slog.Logger) Notifier {
	return newDBus(appName, iconPath, log, dialSession(""), newBeeep(appName, iconPath).show)
}
