package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/xpush/xpush/app/control"
	"github.com/xpush/xpush/app/history"
)

// MaxSize bounds the file Load reads: a configuration is a few hundred
// bytes, and a huge file is not one xpush wrote.
const MaxSize = 1 << 20

// Config is everything the agent keeps in its configuration file.
type Config struct {
	// Account is the account; the zero Account means none is set up.
	Account control.Account
	// Register is set when xpush created the account for the user
	// ("create an account for me") and has not registered it on the
	// server yet: the next login registers it in-band (XEP-0077). The
	// agent clears it once the server confirmed the registration.
	Register bool
	// Settings are the user's preferences.
	Settings control.Settings
	// DNDUntil is when do-not-disturb ends; zero when it is off.
	DNDUntil time.Time
}

// HasAccount reports whether an account is set up.
func (c Config) HasAccount() bool { return c.Account.JID != "" }

// HistoryOptions returns the history retention the settings ask for
// (zero values keep the history's defaults).
func (c Config) HistoryOptions() history.Options {
	var o history.Options
	if c.Settings.HistoryMax > 0 {
		o.MaxEntries = c.Settings.HistoryMax
	}
	if c.Settings.HistoryDays > 0 {
		o.MaxAge = time.Duration(c.Settings.HistoryDays) * 24 * time.Hour
	}
	return o
}

// file is the TOML shape of Config. Its field names are the file's
// keys, a stable format of their own: control's JSON names may change
// without breaking anybody's file.
type file struct {
	DNDUntil time.Time   `toml:"dnd_until,omitzero"`
	Account  fileAccount `toml:"account"`
	Settings fileSetting `toml:"settings"`
}

type fileAccount struct {
	Server        string `toml:"server,omitempty"`
	JID           string `toml:"jid,omitempty"`
	InsecurePlain bool   `toml:"insecure_plain,omitempty"`
	PushService   string `toml:"push_service,omitempty"`
	Register      bool   `toml:"register,omitempty"`
}

type fileSetting struct {
	StartAtLogin bool     `toml:"start_at_login"`
	Muted        []string `toml:"muted"`
	HistoryMax   int      `toml:"history_max,omitempty"`
	HistoryDays  int      `toml:"history_days,omitempty"`
}

func toFile(c Config) file {
	muted := c.Settings.Muted
	if muted == nil {
		muted = []string{}
	}
	return file{
		DNDUntil: c.DNDUntil,
		Account: fileAccount{
			Server:        c.Account.Server,
			JID:           c.Account.JID,
			InsecurePlain: c.Account.InsecurePlain,
			PushService:   c.Account.PushService,
			Register:      c.Register,
		},
		Settings: fileSetting{
			StartAtLogin: c.Settings.StartAtLogin,
			Muted:        muted,
			HistoryMax:   c.Settings.HistoryMax,
			HistoryDays:  c.Settings.HistoryDays,
		},
	}
}

func fromFile(f file) Config {
	c := Config{
		Account: control.Account{
			Server:        f.Account.Server,
			JID:           f.Account.JID,
			InsecurePlain: f.Account.InsecurePlain,
			PushService:   f.Account.PushService,
		},
		Register: f.Account.Register,
		Settings: control.Settings{
			StartAtLogin: f.Settings.StartAtLogin,
			Muted:        f.Settings.Muted,
			HistoryMax:   f.Settings.HistoryMax,
			HistoryDays:  f.Settings.HistoryDays,
		},
		DNDUntil: f.DNDUntil,
	}
	if len(c.Settings.Muted) == 0 {
		c.Settings.Muted = nil
	}
	return c
}

// DefaultPath returns config.toml in an xpush folder of the user's
// configuration directory (os.UserConfigDir: $XDG_CONFIG_HOME or
// ~/.config on Linux, ~/Library/Application Support on macOS, %AppData%
// on Windows).
func DefaultPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("config: no configuration directory: %w", err)
	}
	return filepath.Join(dir, "xpush", "config.toml"), nil
}

// Error is Load's error for a file that exists but cannot be used. Its
// message is a sentence for the user that names the file and, for a
// syntax error, the line.
type Error struct {
	Path string
	Line int // 0 when the problem has no line
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("config: %s, line %d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("config: %s: %v", e.Path, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// lineRE matches the line and key of a TOML decoding error's text.
var lineRE = regexp.MustCompile(`^line (\d+) \(last key "([^"]*)"\): (.*)$`)

// goTypes hides this package's Go types in decoding errors.
var goTypes = strings.NewReplacer("config.fileAccount", "a table", "config.fileSetting", "a table")

// Load reads the configuration at path. A missing file is the zero
// Config and no error. A file that cannot be read or parsed is an *Error
// naming the file (and the line); the Config returned with it is then the
// zero Config, so a caller can show the error and go on.
func Load(path string) (Config, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, &Error{Path: path, Err: err}
	}
	defer f.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(io.LimitReader(f, MaxSize+1)); err != nil {
		return Config{}, &Error{Path: path, Err: err}
	}
	if b.Len() > MaxSize {
		return Config{}, &Error{Path: path, Err: fmt.Errorf("larger than %d bytes", MaxSize)}
	}
	var ff file
	if _, err := toml.NewDecoder(&b).Decode(&ff); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Config{}, &Error{Path: path, Line: pe.Position.Line, Err: errors.New(pe.Message)}
		}
		// Type mismatches come as plain errors that carry the line in
		// their text: "toml: line 3 (last key "a.b"): incompatible types".
		msg := strings.TrimPrefix(err.Error(), "toml: ")
		if m := lineRE.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			return Config{}, &Error{Path: path, Line: line, Err: fmt.Errorf("%s (%s)", goTypes.Replace(m[3]), m[2])}
		}
		return Config{}, &Error{Path: path, Err: errors.New(msg)}
	}
	return fromFile(ff), nil
}

// Explain returns a sentence for the user about an error of Load or Save.
func Explain(err error) string {
	var ce *Error
	if !errors.As(err, &ce) {
		return strings.TrimPrefix(err.Error(), "config: ")
	}
	msg := strings.TrimRight(ce.Err.Error(), ". ")
	if ce.Line > 0 {
		return fmt.Sprintf("The configuration file %s has an error on line %d (%s); xpush runs without it until the settings are saved.", ce.Path, ce.Line, msg)
	}
	return fmt.Sprintf("The configuration file %s cannot be used (%s); xpush runs without it until the settings are saved.", ce.Path, msg)
}
