package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"golang.org/x/term"
)

// Set with -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
var (
	version = "dev"
	commit  = ""
	date    = ""
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // a runtime failure
	exitUsage = 2 // a bad command line or configuration
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usageText = `usage: xpushd COMMAND [flags]

  serve            run the server (xpushd serve -h lists its flags)
  token create     print a new API token         (also: token list, token revoke)
  invite create    print a registration invite   (also: invite list)
  user add         add an account                (also: user list, user delete, user passwd)
  admin passwd     set the web console's admin password
  send             send a notification through the HTTP API
  version          print the version

Every command takes -h for its flags. Flags of serve can also come from
the environment (XPUSHD_ and the flag name, e.g. XPUSHD_DATA) or from a
TOML file given with --config.
`

// cli is one invocation: where it reads and writes, and its environment.
type cli struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// lookupEnv reads the environment; os.LookupEnv outside tests.
	lookupEnv func(string) (string, bool)
	// terminal reports whether r is a terminal, and its descriptor.
	terminal func(r io.Reader) (fd int, ok bool)
	// readPassword reads a line from the terminal without echo.
	readPassword func(fd int) ([]byte, error)
}

// newCLI returns a cli on the real environment and terminal.
func newCLI(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) *cli {
	return &cli{
		ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr,
		lookupEnv: os.LookupEnv,
		terminal: func(r io.Reader) (int, bool) {
			f, ok := r.(*os.File)
			if !ok || !term.IsTerminal(int(f.Fd())) {
				return 0, false
			}
			return int(f.Fd()), true
		},
		readPassword: term.ReadPassword,
	}
}

// command is a subcommand: it parses its own flags from args.
type command struct {
	name  string // as typed, e.g. "token create"
	usage string // the synopsis after "usage: xpushd "
	run   func(c *cli, fs *flag.FlagSet, args []string) error
}

var commands = []command{
	{"serve", serveUsage, (*cli).serve},
	{"token create", "token create --data DIR [--name N] [--ttl DURATION]", (*cli).tokenCreate},
	{"token list", "token list --data DIR", (*cli).tokenList},
	{"token revoke", "token revoke --data DIR --name N", (*cli).tokenRevoke},
	{"invite create", "invite create --data DIR [--ttl 168h] [--name N]", (*cli).inviteCreate},
	{"invite list", "invite list --data DIR", (*cli).inviteList},
	{"user add", "user add --data DIR --name N [--password-stdin] [--legacy-digest]", (*cli).userAdd},
	{"user list", "user list --data DIR [--query Q]", (*cli).userList},
	{"user delete", "user delete --data DIR --name N", (*cli).userDelete},
	{"user passwd", "user passwd --data DIR --name N [--password-stdin] [--legacy-digest]", (*cli).userPasswd},
	{"admin passwd", "admin passwd --data DIR [--password-stdin]", (*cli).adminPasswd},
	{"send", sendUsage, (*cli).send},
	{"version", "version", (*cli).version},
}

// groups are the first words of two-word commands.
var groups = map[string]bool{"token": true, "invite": true, "user": true, "admin": true}

// run is xpushd: it runs the command in args and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return newCLI(ctx, stdin, stdout, stderr).run(args)
}

func (c *cli) run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usageText)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(c.stderr, usageText)
		return exitUsage
	case "-version", "--version":
		args = []string{"version"}
	}
	name, rest := args[0], args[1:]
	if groups[name] {
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			fmt.Fprintf(c.stderr, "xpushd: %s needs a subcommand\n\n%s", name, c.groupUsage(name))
			return exitUsage
		}
		name, rest = name+" "+rest[0], rest[1:]
	}
	for _, cmd := range commands {
		if cmd.name == name {
			return c.exec(cmd, rest)
		}
	}
	if first, _, ok := strings.Cut(name, " "); ok {
		fmt.Fprintf(c.stderr, "xpushd: unknown command %q\n\n%s", name, c.groupUsage(first))
	} else {
		fmt.Fprintf(c.stderr, "xpushd: unknown command %q\n\n%s", name, usageText)
	}
	return exitUsage
}

func (c *cli) groupUsage(group string) string {
	var b strings.Builder
	b.WriteString("usage:\n")
	for _, cmd := range commands {
		if strings.HasPrefix(cmd.name, group+" ") {
			fmt.Fprintf(&b, "  xpushd %s\n", cmd.usage)
		}
	}
	return b.String()
}

// usageError is a bad command line: exit code 2 and the command's usage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exec parses nothing itself: it gives the command a fresh FlagSet, runs
// it and turns its error into the exit code.
func (c *cli) exec(cmd command, args []string) int {
	fs := flag.NewFlagSet("xpushd "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "usage: xpushd %s\n", cmd.usage)
		fs.PrintDefaults()
	}
	err := cmd.run(c, fs, args)
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitUsage // the flag package printed the usage
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "xpushd %s: %s\n", cmd.name, ue.msg)
		fs.Usage()
		return exitUsage
	case isFlagError(err):
		return exitUsage // the flag package printed the error and the usage
	}
	fmt.Fprintf(c.stderr, "xpushd: %s\n", sentence(err))
	return exitFail
}

// flagError marks errors returned by FlagSet.Parse, which the flag package
// has already reported.
type flagError struct{ err error }

func (e *flagError) Error() string { return e.err.Error() }
func (e *flagError) Unwrap() error { return e.err }

func isFlagError(err error) bool {
	var fe *flagError
	return errors.As(err, &fe)
}

// parse parses args into fs; positional arguments are a usage error.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &flagError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// sentence makes an error into one line for a person: the first letter
// upper case is left alone, newlines are folded, a final period added.
func sentence(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if s != "" && !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

func (c *cli) version(fs *flag.FlagSet, args []string) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, versionString())
	return nil
}

func versionString() string {
	v := version
	if v == "dev" {
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	s := "xpushd " + v
	var extra []string
	if commit != "" {
		extra = append(extra, "commit "+commit)
	}
	if date != "" {
		extra = append(extra, "built "+date)
	}
	extra = append(extra, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH)
	return s + " (" + strings.Join(extra, ", ") + ")"
}
