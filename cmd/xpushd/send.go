package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/xpush/xpush/server/api"
	"github.com/xpush/xpush/server/store"
)

// Defaults of xpushd send.
const (
	DefaultSendURL     = "http://" + DefaultHTTP
	DefaultSendTimeout = 30 * time.Second
	// pollMin and pollMax bound the wait between two status requests
	// of --wait: quick at first, then no more than one every two
	// seconds.
	pollMin = 100 * time.Millisecond
	pollMax = 2 * time.Second
	// maxResponse bounds what is read of an answer.
	maxResponse = 16 << 20
)

const sendUsage = `send --http URL --token T (--to USER[,USER...] | --all)
          [--title TEXT] [--message TEXT] [--uri URI] [--ttl 24h]
          [--wait acked|sent] [--timeout 30s]

Prints the notification's id. The token may come from XPUSHD_TOKEN and
the URL from XPUSHD_HTTP instead.`

// sendRequest is the body of POST /api/v1/notifications (DESIGN.md).
type sendRequest struct {
	To      []string `json:"to,omitempty"`
	All     bool     `json:"all,omitempty"`
	Title   string   `json:"title"`
	Message string   `json:"message"`
	URI     string   `json:"uri,omitempty"`
	TTL     string   `json:"ttl,omitempty"`
}

func (c *cli) send(fs *flag.FlagSet, args []string) error {
	base := fs.String("http", DefaultSendURL, "the server's HTTP `URL` (environment XPUSHD_HTTP)")
	token := fs.String("token", "", "API `token` from xpushd token create (environment XPUSHD_TOKEN)")
	to := fs.String("to", "", "comma-separated `users` to notify")
	all := fs.Bool("all", false, "notify every user")
	var req sendRequest
	fs.StringVar(&req.Title, "title", "", "the notification's `title`")
	fs.StringVar(&req.Message, "message", "", "the notification's `text`")
	fs.StringVar(&req.URI, "uri", "", "a `link` opened when the notification is clicked")
	ttl := fs.Duration("ttl", 0, "how long to keep trying to deliver (default: the server's, 24h)")
	wait := fs.String("wait", "", "wait until every recipient's notification reaches this `state`: acked or sent")
	timeout := fs.Duration("timeout", DefaultSendTimeout, "give up after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := layers(fs, c.lookupEnv, only("http", "token"), nil); err != nil {
		return usagef("%v", err)
	}
	for _, u := range strings.Split(*to, ",") {
		if u = strings.TrimSpace(u); u != "" {
			req.To = append(req.To, u)
		}
	}
	req.All = *all
	switch {
	case *token == "":
		return usagef("no API token: give --token or set XPUSHD_TOKEN (xpushd token create makes one)")
	case req.All && len(req.To) > 0:
		return usagef("give --to or --all, not both")
	case !req.All && len(req.To) == 0:
		return usagef("no recipients: give --to USER[,USER...] or --all")
	case strings.TrimSpace(req.Title) == "" && strings.TrimSpace(req.Message) == "":
		return usagef("give --title, --message or both")
	case *wait != "" && *wait != store.StateAcked && *wait != store.StateSent:
		return usagef("--wait must be acked or sent, not %q", *wait)
	case *ttl < 0:
		return usagef("--ttl must not be negative")
	case *timeout <= 0:
		return usagef("--timeout must be positive")
	}
	if *ttl > 0 {
		req.TTL = ttl.String()
	}
	endpoint, err := apiURL(*base)
	if err != nil {
		return usagef("%v", err)
	}

	ctx, cancel := context.WithTimeout(c.ctx, *timeout)
	defer cancel()
	cl := &client{base: endpoint, token: *token, http: &http.Client{}}
	id, err := cl.post(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, id)
	if *wait == "" {
		return nil
	}
	st, err := cl.wait(ctx, id, *wait)
	if st != nil {
		for _, r := range st.Recipients {
			fmt.Fprintf(c.stdout, "%s %s\n", r.User, r.State)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) && c.ctx.Err() == nil {
		return fmt.Errorf("timed out after %v waiting for every recipient to reach %s", *timeout, *wait)
	}
	return err
}

// apiURL checks the server URL; a bare HOST:PORT (as in XPUSHD_HTTP for
// xpushd serve) means http://HOST:PORT.
func apiURL(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--http %q is not an http:// or https:// URL", s)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// client talks to the xpushd HTTP API.
type client struct {
	base  *url.URL
	token string
	http  *http.Client
}

func (cl *client) url(path string) string {
	u := *cl.base
	u.Path += path
	return u.String()
}

// do sends a request and decodes a 2xx JSON answer into v; other answers
// become an error with the server's message.
func (cl *client) do(ctx context.Context, method, path string, body any, want int, v any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, cl.url(path), rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+cl.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "xpushd-send/"+version)
	resp, err := cl.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("cannot reach the server at %s: %w", cl.base.Redacted(), errors.Unwrap(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("cannot read the server's answer: %w", err)
	}
	if resp.StatusCode != want {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		if len(msg) > 300 {
			msg = msg[:300] + "..."
		}
		return fmt.Errorf("the server answered %s: %s", resp.Status, msg)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("the server's answer is not the expected JSON: %w", err)
	}
	return nil
}

func (cl *client) post(ctx context.Context, req sendRequest) (string, error) {
	var res struct {
		ID string `json:"id"`
	}
	if err := cl.do(ctx, http.MethodPost, "/api/v1/notifications", req, http.StatusAccepted, &res); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return "", errors.New("timed out sending the notification")
		}
		return "", err
	}
	if res.ID == "" {
		return "", errors.New("the server's answer has no notification id")
	}
	return res.ID, nil
}

// wait polls the notification's status until every recipient reached
// state (acked counts as sent), one of them cannot any more, or ctx
// ends. It returns the last status it got.
func (cl *client) wait(ctx context.Context, id, state string) (*api.Status, error) {
	var last *api.Status
	delay := pollMin
	for {
		var st api.Status
		err := cl.do(ctx, http.MethodGet, "/api/v1/notifications/"+url.PathEscape(id), nil, http.StatusOK, &st)
		if err != nil {
			return last, err
		}
		last = &st
		done, failed := true, ""
		for _, r := range st.Recipients {
			switch {
			case r.State == state, r.State == store.StateAcked:
			case r.State == store.StateExpired:
				failed = r.User
			default:
				done = false
			}
		}
		if failed != "" {
			return last, fmt.Errorf("the notification expired before %s got it", failed)
		}
		if done {
			return last, nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return last, ctx.Err()
		case <-t.C:
		}
		delay = min(delay*3/2, pollMax)
	}
}
