// Command xpush is the xpush desktop agent: a tray application that shows
// every notification pushed to its XMPP account as a desktop toast and a
// history entry. `xpush listen` runs the same session headless and prints
// notifications as JSON lines.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/xpush/xpush/app/listen"
	"github.com/xpush/xpush/app/secret"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the composition root: it picks the mode and wires its parts.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "listen" {
		return listen.Main(ctx, args[1:], secret.Keyring{}, stdin, stdout, stderr)
	}
	fmt.Fprintln(stderr, "xpush: the tray agent is not built yet; run `xpush listen --help` for the headless agent")
	return 2
}
