package autostart

import (
	"bytes"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

// launchdLabel is the launchd job's label and the plist's name.
const launchdLabel = "org.xpush.agent"

// launchdBackend keeps the entry as a launchd agent in a LaunchAgents
// folder; launchd loads it at the next login.
type launchdBackend struct {
	dir string // the LaunchAgents folder
}

func (b launchdBackend) path() string { return filepath.Join(b.dir, launchdLabel+".plist") }

func (b launchdBackend) enabled() (bool, error) {
	_, err := os.Stat(b.path())
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (b launchdBackend) enable(exe string, args []string) error {
	data, err := renderPlist(exe, args)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return err
	}
	// launchd ignores a plist that others may write.
	return writeFile(b.path(), data, 0o644)
}

func (b launchdBackend) disable() error { return removeFile(b.path()) }

// plistTemplate is the launchd agent. ProcessType Interactive gives it
// the resources of an app rather than a background daemon's;
// LimitLoadToSessionType Aqua keeps it out of ssh logins.
var plistTemplate = template.Must(template.New("plist").Funcs(template.FuncMap{"xml": xmlText}).Parse(
	`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>{{xml .Label}}</string>
	<key>ProgramArguments</key>
	<array>
{{- range .Args}}
		<string>{{xml .}}</string>
{{- end}}
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>ProcessType</key>
	<string>Interactive</string>
	<key>LimitLoadToSessionType</key>
	<string>Aqua</string>
</dict>
</plist>
`))

// renderPlist returns the launchd agent that starts exe with args.
func renderPlist(exe string, args []string) ([]byte, error) {
	var b bytes.Buffer
	err := plistTemplate.Execute(&b, struct {
		Label string
		Args  []string
	}{launchdLabel, append([]string{exe}, args...)})
	if err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// xmlText escapes s as XML character data. checkCommand has refused the
// characters XML cannot carry, which xml.EscapeText would replace.
func xmlText(s string) (string, error) {
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(s)); err != nil {
		return "", err
	}
	return b.String(), nil
}
