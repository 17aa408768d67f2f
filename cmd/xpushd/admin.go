package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/xpush/xpush/server/account"
	"github.com/xpush/xpush/server/console"
	"github.com/xpush/xpush/server/store"
)

// Secrets this command makes.
const (
	// tokenBytes is the entropy of API tokens and invites: 256 bits, far
	// beyond guessing, and they are stored only as SHA-256.
	tokenBytes = 32
	// passwordBytes is the entropy of a generated account password: 144
	// bits, 24 characters of base64url.
	passwordBytes = 18
	// DefaultInviteTTL is how long a registration invite stays valid.
	DefaultInviteTTL = 7 * 24 * time.Hour
)

// newSecret returns n random bytes as unpadded base64url.
func newSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is how the API and the c2s listener look tokens up.
func hashToken(tok string) []byte {
	sum := sha256.Sum256([]byte(tok))
	return sum[:]
}

// defaultName names a token or invite the user did not name.
func defaultName(kind string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return kind + "-" + time.Now().UTC().Format("20060102") + "-" + hex.EncodeToString(b)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format(time.DateTime)
}

// withStore is the frame of an administration command whose own flags fs
// already defines: it adds --data, parses args, runs check (if not nil) on
// the flags, opens the store (creating it with create) and runs f on it.
func (c *cli) withStore(fs *flag.FlagSet, args []string, create bool, check func() error, f func(st store.Store) error) error {
	data := dataFlag(fs)
	if err := c.parseAdmin(fs, args); err != nil {
		return err
	}
	if check != nil {
		if err := check(); err != nil {
			return err
		}
	}
	st, err := openStore(c, *data, create)
	if err != nil {
		return err
	}
	defer st.Close()
	return f(st)
}

// listTable is the frame of a list command: it lists what (for the error
// message) from the store and prints header and a line per row, in
// aligned columns.
func listTable[T any](c *cli, fs *flag.FlagSet, args []string, what string, list func(st store.Store) ([]T, error), header string, line func(T) string) error {
	return c.withStore(fs, args, false, nil, func(st store.Store) error {
		rows, err := list(st)
		if err != nil {
			return fmt.Errorf("cannot list the %s: %w", what, err)
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, header)
		for _, r := range rows {
			fmt.Fprintln(tw, line(r))
		}
		return tw.Flush()
	})
}

func (c *cli) tokenCreate(fs *flag.FlagSet, args []string) error {
	name := fs.String("name", "", "a `name` for the token, to list and revoke it (default: token-DATE-RANDOM)")
	ttl := fs.Duration("ttl", 0, "how long the token is valid (default: until revoked)")
	check := func() error {
		if *ttl < 0 {
			return usagef("--ttl must not be negative")
		}
		if *name == "" {
			*name = defaultName("token")
		}
		return nil
	}
	return c.withStore(fs, args, true, check, func(st store.Store) error {
		tok := newSecret(tokenBytes)
		now := time.Now()
		t := store.Token{Name: *name, Hash: hashToken(tok), Created: now}
		if *ttl > 0 {
			t.Expires = now.Add(*ttl)
		}
		switch err := st.CreateAPIToken(c.ctx, t); {
		case errors.Is(err, store.ErrExists):
			return fmt.Errorf("an API token named %q exists already", *name)
		case err != nil:
			return fmt.Errorf("cannot store the token: %w", err)
		}
		fmt.Fprintf(c.stderr, "xpushd: API token %q created; it is shown only this once\n", *name)
		fmt.Fprintln(c.stdout, tok)
		return nil
	})
}

func (c *cli) tokenList(fs *flag.FlagSet, args []string) error {
	list := func(st store.Store) ([]store.Token, error) { return st.ListAPITokens(c.ctx) }
	return listTable(c, fs, args, "tokens", list, "NAME\tCREATED\tEXPIRES", func(t store.Token) string {
		return fmt.Sprintf("%s\t%s\t%s", t.Name, fmtTime(t.Created), fmtTime(t.Expires))
	})
}

func (c *cli) tokenRevoke(fs *flag.FlagSet, args []string) error {
	name := fs.String("name", "", "`name` of the token to revoke (see token list)")
	check := func() error {
		if *name == "" {
			return usagef("--name is required")
		}
		return nil
	}
	return c.withStore(fs, args, false, check, func(st store.Store) error {
		switch err := st.RevokeAPIToken(c.ctx, *name); {
		case errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("there is no API token named %q", *name)
		case err != nil:
			return fmt.Errorf("cannot revoke the token: %w", err)
		}
		fmt.Fprintf(c.stderr, "xpushd: API token %q revoked\n", *name)
		return nil
	})
}

func (c *cli) inviteCreate(fs *flag.FlagSet, args []string) error {
	ttl := fs.Duration("ttl", DefaultInviteTTL, "how long the invite is valid")
	name := fs.String("name", "", "a `note` on whom the invite is for (default: invite-DATE-RANDOM)")
	check := func() error {
		if *ttl <= 0 {
			return usagef("--ttl must be positive")
		}
		if *name == "" {
			*name = defaultName("invite")
		}
		return nil
	}
	return c.withStore(fs, args, true, check, func(st store.Store) error {
		tok := newSecret(tokenBytes)
		now := time.Now()
		if err := st.CreateInvite(c.ctx, store.Token{Name: *name, Hash: hashToken(tok), Created: now, Expires: now.Add(*ttl)}); err != nil {
			return fmt.Errorf("cannot store the invite: %w", err)
		}
		fmt.Fprintf(c.stderr, "xpushd: invite %q valid until %s, for one registration (with --registration token)\n", *name, fmtTime(now.Add(*ttl)))
		fmt.Fprintln(c.stdout, tok)
		return nil
	})
}

func (c *cli) inviteList(fs *flag.FlagSet, args []string) error {
	list := func(st store.Store) ([]store.Token, error) { return st.ListInvites(c.ctx) }
	return listTable(c, fs, args, "invites", list, "NAME\tCREATED\tEXPIRES\tUSED", func(t store.Token) string {
		return fmt.Sprintf("%s\t%s\t%s\t%v", t.Name, fmtTime(t.Created), fmtTime(t.Expires), t.Used)
	})
}

// userFlags are the flags of user add and user passwd (besides --data).
type userFlags struct {
	name          *string
	passwordStdin *bool
	legacy        *bool
}

func addUserFlags(fs *flag.FlagSet) userFlags {
	return userFlags{
		name:          fs.String("name", "", "the account's user `name` (the part before @)"),
		passwordStdin: fs.Bool("password-stdin", false, "read the password from the first line of standard input (default: generate one and print it)"),
		legacy:        fs.Bool("legacy-digest", false, "also keep the password in clear, for the paper's jabber:iq:auth digest login (xpushd serve --legacy-digest)"),
	}
}

// password returns the account password: the first line of stdin, or a
// new one that it prints on stdout.
func (c *cli) password(fromStdin bool) (string, error) {
	if !fromStdin {
		pw := newSecret(passwordBytes)
		fmt.Fprintln(c.stdout, pw)
		return pw, nil
	}
	pw, err := readLine(c.stdin, account.MaxPassword)
	if err != nil {
		return "", err
	}
	if err := account.CheckPassword(pw); err != nil {
		return "", errors.New(strings.TrimPrefix(err.Error(), "account: "))
	}
	return pw, nil
}

// newKeys takes the password of the user name (see password) and derives
// its SCRAM keys.
func (c *cli) newKeys(name string, fromStdin bool) (pw string, sha1, sha256 store.Credentials, err error) {
	if pw, err = c.password(fromStdin); err != nil {
		return "", sha1, sha256, err
	}
	sha1, sha256, err = account.Keys(name, pw, 0)
	return pw, sha1, sha256, err
}

// readLine reads one line (without its \n or \r\n) of at most max bytes.
func readLine(r io.Reader, max int) (string, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, int64(max)+2), 64)
	line, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("cannot read the password from standard input: %w", err)
	}
	if !strings.HasSuffix(line, "\n") && len(line) > max {
		return "", fmt.Errorf("the password is longer than %d bytes", max)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password on standard input")
	}
	return line, nil
}

func (c *cli) userAdd(fs *flag.FlagSet, args []string) error {
	f := addUserFlags(fs)
	var name string
	return c.withStore(fs, args, true, checkName(f.name, &name), func(st store.Store) error {
		if _, err := st.User(c.ctx, name); err == nil {
			return fmt.Errorf("the user %q exists already (user passwd changes the password)", name)
		}
		pw, sha1, sha256, err := c.newKeys(name, *f.passwordStdin)
		if err != nil {
			return err
		}
		u := store.User{Name: name, SHA1: sha1, SHA256: sha256, Created: time.Now()}
		if *f.legacy {
			u.Legacy = pw
		}
		switch err := st.CreateUser(c.ctx, u); {
		case errors.Is(err, store.ErrExists):
			return fmt.Errorf("the user %q exists already (user passwd changes the password)", name)
		case err != nil:
			return fmt.Errorf("cannot store the user: %w", err)
		}
		fmt.Fprintf(c.stderr, "xpushd: user %q added\n", name)
		return nil
	})
}

// checkName returns a check for withStore that sets *name to the checked
// and normalized --name flag.
func checkName(from, name *string) func() error {
	return func() (err error) {
		*name, err = userName(*from)
		return err
	}
}

// userName checks and normalizes --name.
func userName(s string) (string, error) {
	if s == "" {
		return "", usagef("--name is required")
	}
	name, err := account.Normalize(s)
	if err != nil {
		return "", usagef("%q is not a valid user name", s)
	}
	return name, nil
}

func (c *cli) userList(fs *flag.FlagSet, args []string) error {
	query := fs.String("query", "", "list only names containing this `text`")
	list := func(st store.Store) ([]store.User, error) { return st.ListUsers(c.ctx, store.Page{Query: *query}) }
	return listTable(c, fs, args, "users", list, "NAME\tCREATED", func(u store.User) string {
		return fmt.Sprintf("%s\t%s", u.Name, fmtTime(u.Created))
	})
}

func (c *cli) userDelete(fs *flag.FlagSet, args []string) error {
	nameFlag := fs.String("name", "", "the user `name` to delete, with all its pending notifications")
	var name string
	return c.withStore(fs, args, false, checkName(nameFlag, &name), func(st store.Store) error {
		switch err := st.DeleteUser(c.ctx, name); {
		case errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("there is no user %q", name)
		case err != nil:
			return fmt.Errorf("cannot delete the user: %w", err)
		}
		fmt.Fprintf(c.stderr, "xpushd: user %q deleted\n", name)
		return nil
	})
}

func (c *cli) userPasswd(fs *flag.FlagSet, args []string) error {
	f := addUserFlags(fs)
	var name string
	return c.withStore(fs, args, false, checkName(f.name, &name), func(st store.Store) error {
		if _, err := st.User(c.ctx, name); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("there is no user %q", name)
		}
		pw, sha1, sha256, err := c.newKeys(name, *f.passwordStdin)
		if err != nil {
			return err
		}
		legacy := ""
		if *f.legacy {
			legacy = pw
		}
		switch err := st.SetCredentials(c.ctx, name, sha1, sha256, legacy); {
		case errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("there is no user %q", name)
		case err != nil:
			return fmt.Errorf("cannot store the password: %w", err)
		}
		fmt.Fprintf(c.stderr, "xpushd: password of %q changed; sessions already logged in stay so\n", name)
		return nil
	})
}

func (c *cli) adminPasswd(fs *flag.FlagSet, args []string) error {
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input (default: ask twice on the terminal)")
	var hash []byte
	check := func() error {
		var pw string
		if *fromStdin {
			var err error
			if pw, err = readLine(c.stdin, console.MaxAdminPassword); err != nil {
				return err
			}
		} else {
			fd, ok := c.terminal(c.stdin)
			if !ok {
				return usagef("standard input is not a terminal: pipe the password in with --password-stdin")
			}
			var err error
			if pw, err = c.askTwice(fd, "console admin password"); err != nil {
				return err
			}
		}
		var err error
		if hash, err = console.HashPassword(pw); err != nil {
			return errors.New(strings.TrimPrefix(err.Error(), "console: "))
		}
		return nil
	}
	return c.withStore(fs, args, true, check, func(st store.Store) error {
		if err := st.SetAdminHash(c.ctx, hash); err != nil {
			return fmt.Errorf("cannot store the admin password: %w", err)
		}
		fmt.Fprintln(c.stderr, "xpushd: console admin password set")
		return nil
	})
}

// askTwice reads a password twice from the terminal fd, without echo.
func (c *cli) askTwice(fd int, what string) (string, error) {
	fmt.Fprintf(c.stderr, "New %s: ", what)
	a, err := c.readPassword(fd)
	fmt.Fprintln(c.stderr)
	if err != nil {
		return "", fmt.Errorf("cannot read the password: %w", err)
	}
	fmt.Fprintf(c.stderr, "Repeat it: ")
	b, err := c.readPassword(fd)
	fmt.Fprintln(c.stderr)
	if err != nil {
		return "", fmt.Errorf("cannot read the password: %w", err)
	}
	if string(a) != string(b) {
		return "", errors.New("the two passwords differ; nothing was changed")
	}
	return string(a), nil
}
