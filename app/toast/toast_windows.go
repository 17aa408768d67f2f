//go:build windows

package toast

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"git.sr.ht/~jackmordaunt/go-toast/wintoast"
)

// activatorGUID is xpush's own COM class for toast activation (go-toast's
// default is shared by every program that uses it).
const activatorGUID = "{81E9BE4F-0D3D-4DB8-B98A-EEA28707BD81}"

// newPlatform: Windows toast notifications through go-toast's wintoast
// (WinRT over COM, PowerShell as a fallback), with XML built by toastXML.
// A process should have one such Notifier: the activation callback and the
// registration are process-wide.
func newPlatform(appName, iconPath string, log *slog.Logger) Notifier {
	n := &winNotifier{appID: windowsAppID(appName), icon: iconPath, log: log, clicks: newClickSink(log)}
	wintoast.SetActivationCallback(n.activated)
	return n
}

type winNotifier struct {
	appID, icon string
	log         *slog.Logger
	clicks      *clickSink

	mu         sync.Mutex
	closed     bool
	registered bool
}

func (n *winNotifier) Clicks() <-chan string { return n.clicks.ch }

// Show registers the application on first use (HKCU\Software\Classes\
// AppUserModelId\<appName>: display name, icon, activator) and pushes t.
// The WinRT call takes no context; ctx is checked before it.
func (n *winNotifier) Show(ctx context.Context, t Toast) error {
	t = cleaned(t)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("toast: %w", err)
	}
	if !n.registered {
		err := wintoast.SetAppData(wintoast.AppData{AppID: n.appID, GUID: activatorGUID, IconPath: n.icon})
		if err != nil {
			return fmt.Errorf("toast: registering %s: %w", n.appID, err)
		}
		n.registered = true
	}
	if err := wintoast.Push(toastXML(t, n.icon), wintoast.PowershellFallback); err != nil {
		return fmt.Errorf("toast: %w", err)
	}
	return nil
}

// activated runs on a COM thread when the user clicks a toast with
// foreground activation while this process runs.
func (n *winNotifier) activated(_, args string, _ []wintoast.UserData) {
	if key, ok := strings.CutPrefix(args, keyPrefix); ok {
		n.clicks.send(key)
	}
}

func (n *winNotifier) Close() error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.clicks.close()
	return nil
}
