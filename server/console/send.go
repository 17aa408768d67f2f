package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/xpush/xpush/server/send"
	"github.com/xpush/xpush/server/store"
	"github.com/xpush/xpush/xmpp/notification"
)

// sendForm is the send form's fields, as entered.
type sendForm struct {
	Target  string // "users" or "all"
	To      string
	Title   string
	Message string
	URI     string
	TTL     string
	Preview bool // show the uri's image
}

const defaultTTLText = "24h"

func (c *Console) sendPage(w http.ResponseWriter, r *http.Request) error {
	f := sendForm{Target: "users", TTL: defaultTTLText}
	if to := r.URL.Query().Get("to"); to != "" && len(to) <= 1024 {
		f.To = to // the user pages link here with ?to=NAME
	}
	return c.render(w, r, http.StatusOK, "send", page{Title: "Send", Data: f})
}

func (c *Console) send(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	f := sendForm{
		Target:  r.PostForm.Get("target"),
		To:      r.PostForm.Get("to"),
		Title:   r.PostForm.Get("title"),
		Message: r.PostForm.Get("message"),
		URI:     strings.TrimSpace(r.PostForm.Get("uri")),
		TTL:     strings.TrimSpace(r.PostForm.Get("ttl")),
	}
	// Browsers submit a textarea's line breaks as CRLF; a notification
	// carries them as the API does, as LF.
	f.Message = strings.ReplaceAll(f.Message, "\r\n", "\n")
	bad := func(format string, args ...any) error {
		return formError(http.StatusBadRequest, "send", f, format, args...)
	}
	if f.Target == "" {
		f.Target = "users"
	}
	req := send.Request{Title: f.Title, Message: f.Message, URI: f.URI, Sender: "console"}
	switch f.Target {
	case "all":
		req.All = true
	case "users":
		req.To = splitUsers(f.To)
		if len(req.To) == 0 {
			return bad("Give at least one user, or choose everyone.")
		}
	default:
		f.Target = "users"
		return bad("Choose some users or everyone.")
	}
	ttl, err := parseTTL(f.TTL)
	if err != nil {
		return bad("%s", err.Error())
	}
	req.TTL = ttl
	if f.URI != "" && len(f.URI) <= notification.MaxURILen {
		if err := notification.CheckURI(f.URI, nil); err != nil {
			return bad("The link is not usable (%s).", strings.TrimPrefix(err.Error(), "notification: uri "))
		}
	}
	if r.PostForm.Get("action") == "preview" {
		f.Preview = true
		return c.render(w, r, http.StatusOK, "send", page{Title: "Send", Data: f})
	}
	id, err := c.opts.Sender.Send(r.Context(), req)
	var ve *send.ValidationError
	switch {
	case errors.As(err, &ve):
		return bad("%s.", sentence(ve.Msg))
	case errors.Is(err, store.ErrExists):
		return bad("A notification with this id exists already.")
	case err != nil:
		return err
	}
	c.opts.Logger.Info("console: sent", "id", id, "all", req.All, "to", len(req.To))
	http.Redirect(w, r, "/notifications/"+url.PathEscape(id)+"?done=sent", http.StatusSeeOther)
	return nil
}

// splitUsers splits a list of users on commas, semicolons and spaces.
func splitUsers(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) })
}

type ttlError string

func (e ttlError) Error() string { return string(e) }

// parseTTL reads a time to live such as 30m, 24h or 7d; "" is the
// default.
func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	bad := ttlError("The time to live must look like 30m, 24h or 7d, at most " + strconv.Itoa(int(send.MaxTTL/(24*time.Hour))) + "d.")
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 3650 {
			return 0, bad
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, bad
		}
	}
	if d <= 0 || d > send.MaxTTL {
		return 0, bad
	}
	return d, nil
}

// sentence capitalizes the first letter of a validation message.
func sentence(s string) string {
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "The notification is not valid"
	}
	if 'a' <= s[0] && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}
