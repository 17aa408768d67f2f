package toast

import "github.com/xpush/xpush/app/opener"

// This file builds the command lines of the macOS backend. It has no build
// tag so that its tests run everywhere.

// terminalNotifierArgs returns the arguments for terminal-notifier showing
// t. terminal-notifier reads its options through NSUserDefaults, which
// parses a value that looks like a property list ("[...]", "(...)",
// "<...>") as one; it strips one leading backslash from every value, so
// each value gets one and is always taken as a plain string. -open is set
// only for a link that opener.Check accepts.
func terminalNotifierArgs(t Toast, icon string) []string {
	args := []string{
		"-title", `\` + t.Title,
		"-message", `\` + t.Body,
	}
	if icon != "" {
		args = append(args, "-appIcon", `\`+icon)
	}
	if t.URI != "" && opener.Check(t.URI) == nil {
		args = append(args, "-open", `\`+t.URI)
	}
	return args
}

// osascriptScript shows a notification with the title and body given as
// the script's arguments, so no text is ever parsed as AppleScript. Each
// argument carries a leading "x" that the script drops, so that none can
// look like an option to osascript.
var osascriptScript = []string{
	"on run argv",
	"display notification (my unx(item 2 of argv)) with title (my unx(item 1 of argv))",
	"end run",
	"on unx(s)",
	"if (count of s) < 2 then return \"\"",
	"return text 2 thru -1 of s",
	"end unx",
}

// osascriptArgs returns the arguments for osascript showing t.
func osascriptArgs(t Toast) []string {
	args := make([]string, 0, 2*len(osascriptScript)+2)
	for _, line := range osascriptScript {
		args = append(args, "-e", line)
	}
	return append(args, "x"+t.Title, "x"+t.Body)
}
