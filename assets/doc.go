// Package assets holds the tray agent's embedded images: the application
// icon ([Icon], 256×256, also named by FyneApp.toml and used for toasts)
// and the tray icons ([Tray] at 22×22, [Tray2x] at 44×44), one for each
// state the tray shows:
//
//	tray/online.png         connected: a white bell on a blue disc
//	tray/online-unread.png  connected, with unread notifications: a red dot
//	tray/connecting.png     connecting: a grey disc, the bell over "…"
//	tray/offline.png        offline or no account: grey, the bell crossed out
//	tray/dnd.png            connected, notifications paused: a moon
//
// Every image is a PNG (the Linux tray protocol carries pixels decoded
// from PNG; Windows wants an ICO, which package tray wraps around these).
// They are drawn by ./gen, not edited by hand: change gen/main.go and run
// `go generate ./assets`, then look at the result with
// `go run ./assets/gen -out /tmp/icons -preview /tmp/icons/preview.png`.
package assets
