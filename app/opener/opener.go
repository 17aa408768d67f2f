package opener

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"time"
)

var (
	// ErrScheme is returned for a URI whose scheme is not http or https:
	// such a link may be shown, but opening it needs the user's explicit
	// confirmation and a different path than Open.
	ErrScheme = errors.New("opener: only http and https links open directly")

	// ErrMalformed is returned for a URI that is not a plain absolute
	// http(s) URI: empty, too long, with characters outside RFC 3986 (space,
	// quote, control characters, non-ASCII), with credentials or no host.
	ErrMalformed = errors.New("opener: malformed link")

	// ErrUnsupported is returned on a platform with no known opener.
	ErrUnsupported = errors.New("opener: opening links is not supported on this platform")
)

// MaxLen bounds the length of a URI that Open accepts, in bytes. Windows
// limits a command line to 32767 characters; browsers accept more, but a
// pushed link this long is not one a person clicks.
const MaxLen = 8192

// settle is how long Open waits for the helper to fail before it reports
// success: xdg-open, open and rundll32 exit within milliseconds when they
// cannot find a handler, but may run as long as the browser when they can.
const settle = 1500 * time.Millisecond

// Check reports whether Open would open uri: nil for an http or https URI
// that is safe to pass as one argument, an error wrapping ErrScheme for any
// other scheme, and one wrapping ErrMalformed otherwise.
func Check(uri string) error {
	if uri == "" {
		return fmt.Errorf("%w: empty", ErrMalformed)
	}
	if len(uri) > MaxLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxLen)
	}
	for i := 0; i < len(uri); i++ {
		if !uriByte(uri[i]) {
			return fmt.Errorf("%w: character %q at offset %d is not allowed", ErrMalformed, uri[i], i)
		}
	}
	// A scheme starts with a letter (RFC 3986 section 3.1), so a URI that
	// passes here cannot begin with "-" and be taken for an option.
	if c := uri[0]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
		return fmt.Errorf("%w: does not start with a scheme", ErrMalformed)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "":
		return fmt.Errorf("%w: no scheme", ErrMalformed)
	default:
		return fmt.Errorf("%w (not %q)", ErrScheme, strings.ToLower(u.Scheme))
	}
	if u.Opaque != "" || u.Host == "" {
		return fmt.Errorf("%w: no host", ErrMalformed)
	}
	if u.User != nil {
		return fmt.Errorf("%w: carries credentials", ErrMalformed)
	}
	return nil
}

// uriByte reports whether c may appear in a URI as RFC 3986 writes it:
// unreserved, reserved or the '%' of a percent-encoding. Everything else
// (controls, space, '"', '<', '>', '\\', '^', '`', '{', '|', '}', DEL and
// non-ASCII) is refused.
func uriByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~:/?#[]@!$&'()*+,;=%", c) >= 0
}

// Open opens uri in the default browser if Check accepts it. It returns
// when the helper program has exited (with its failure, if any), after a
// short settling time, or when ctx is done, whichever comes first; in the
// last two cases the helper is left running and reaped by a goroutine when
// it exits. Open never passes uri through a shell.
func Open(ctx context.Context, uri string) error {
	if err := Check(uri); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("opener: %w", err)
	}
	cmd, err := command(uri)
	if err != nil {
		return err
	}
	return start(ctx, cmd)
}

// start runs cmd detached from our standard streams, then waits for it as
// Open describes.
func start(ctx context.Context, cmd *exec.Cmd) error {
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil // the null device
	detach(cmd)
	name := cmd.Path
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("opener: %w", err)
	}
	done := make(chan error, 1)
	// This goroutine is the helper's reaper: it ends when the helper does,
	// and never blocks on done, which has room for its one value.
	go func() { done <- cmd.Wait() }()
	t := time.NewTimer(settle)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("opener: %s: %w", name, err)
		}
		return nil
	case <-t.C:
		return nil
	case <-ctx.Done():
		return nil
	}
}
