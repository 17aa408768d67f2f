package console

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xpush/xpush/server/store"
)

// Token prefixes tell an API token from an invite at a glance; the API
// and the c2s listener look either up by the SHA-256 of the whole string.
const (
	apiTokenPrefix = "xpt_"
	invitePrefix   = "xpi_"
	maxTokenName   = 64
	// defaultInviteTTL is an invite's life when the form leaves it empty.
	defaultInviteTTL = "7d"
)

// NewToken returns a random token with prefix (256 bits, base64url) and
// the SHA-256 hash that is all the store keeps of it.
func NewToken(prefix string) (token string, hash []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	token = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(token))
	return token, sum[:]
}

type tokenRow struct {
	Name    string
	Created time.Time
	Expires time.Time
	State   string // for invites: unused, used, expired
}

type tokensData struct {
	Tokens     []tokenRow
	Invites    []tokenRow
	NewToken   string // shown once after creation
	NewInvite  string
	TokenName  string // the create form's fields
	TokenTTL   string
	InviteName string
	InviteTTL  string
}

func (c *Console) tokensData(r *http.Request) (tokensData, error) {
	d := tokensData{InviteTTL: defaultInviteTTL}
	ts, err := c.opts.Store.ListAPITokens(r.Context())
	if err != nil {
		return d, err
	}
	now := c.opts.Now()
	for _, t := range ts {
		row := tokenRow{Name: t.Name, Created: t.Created, Expires: t.Expires, State: "active"}
		if !t.Expires.IsZero() && !t.Expires.After(now) {
			row.State = "expired"
		}
		d.Tokens = append(d.Tokens, row)
	}
	is, err := c.opts.Store.ListInvites(r.Context())
	if err != nil {
		return d, err
	}
	for i := len(is) - 1; i >= 0; i-- { // newest first
		t := is[i]
		row := tokenRow{Name: t.Name, Created: t.Created, Expires: t.Expires, State: "unused"}
		switch {
		case t.Used:
			row.State = "used"
		case !t.Expires.IsZero() && !t.Expires.After(now):
			row.State = "expired"
		}
		d.Invites = append(d.Invites, row)
	}
	return d, nil
}

func (c *Console) tokens(w http.ResponseWriter, r *http.Request) error {
	d, err := c.tokensData(r)
	if err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "tokens", page{Title: "Tokens", Flash: flash(r), Data: d})
}

// checkName checks a token's or invite's name: short, printable text.
func checkName(name string, required bool) error {
	switch {
	case name == "" && required:
		return formMsg("Give the token a name, such as the service that will use it.")
	case len(name) > maxTokenName:
		return formMsg("The name is longer than 64 characters.")
	case !utf8.ValidString(name) || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return formMsg("The name may only hold printable characters.")
	}
	return nil
}

// expiry reads an optional time to live: "" is never.
func (c *Console) expiry(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := atoiBounded(days, 1, 3650)
		if err != nil {
			return time.Time{}, formMsg("The expiry must look like 24h or 90d, at most 3650d.")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d <= 0 || d > 3650*24*time.Hour {
			return time.Time{}, formMsg("The expiry must look like 24h or 90d, at most 3650d.")
		}
	}
	return c.opts.Now().Add(d), nil
}

func (c *Console) createToken(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	d, err := c.tokensData(r)
	if err != nil {
		return err
	}
	d.TokenName = strings.TrimSpace(r.PostForm.Get("name"))
	d.TokenTTL = strings.TrimSpace(r.PostForm.Get("ttl"))
	bad := func(code int, err error) error { return formError(code, "tokens", d, "%s", err.Error()) }
	if err := checkName(d.TokenName, true); err != nil {
		return bad(http.StatusBadRequest, err)
	}
	exp, err := c.expiry(d.TokenTTL)
	if err != nil {
		return bad(http.StatusBadRequest, err)
	}
	tok, hash := NewToken(apiTokenPrefix)
	err = c.opts.Store.CreateAPIToken(r.Context(), store.Token{Name: d.TokenName, Hash: hash, Created: c.opts.Now(), Expires: exp})
	switch {
	case errors.Is(err, store.ErrExists):
		return bad(http.StatusConflict, formMsg("A token named "+d.TokenName+" exists already."))
	case err != nil:
		return err
	}
	c.opts.Logger.Info("console: API token created", "name", d.TokenName)
	if d, err = c.tokensData(r); err != nil {
		return err
	}
	d.NewToken = tok
	return c.render(w, r, http.StatusOK, "tokens", page{Title: "Tokens", Data: d})
}

func (c *Console) revokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	name := r.PostForm.Get("name")
	err := c.opts.Store.RevokeAPIToken(r.Context(), name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, "There is no token with this name.")
	case err != nil:
		return err
	}
	c.opts.Logger.Info("console: API token revoked", "name", name)
	http.Redirect(w, r, "/tokens?done=revoked", http.StatusSeeOther)
	return nil
}

func (c *Console) createInvite(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	d, err := c.tokensData(r)
	if err != nil {
		return err
	}
	d.InviteName = strings.TrimSpace(r.PostForm.Get("name"))
	d.InviteTTL = strings.TrimSpace(r.PostForm.Get("ttl"))
	bad := func(err error) error { return formError(http.StatusBadRequest, "tokens", d, "%s", err.Error()) }
	if err := checkName(d.InviteName, false); err != nil {
		return bad(err)
	}
	exp, err := c.expiry(d.InviteTTL)
	if err != nil {
		return bad(err)
	}
	tok, hash := NewToken(invitePrefix)
	if err := c.opts.Store.CreateInvite(r.Context(), store.Token{Name: d.InviteName, Hash: hash, Created: c.opts.Now(), Expires: exp}); err != nil {
		return err
	}
	c.opts.Logger.Info("console: invite created", "name", d.InviteName)
	if d, err = c.tokensData(r); err != nil {
		return err
	}
	d.NewInvite = tok
	return c.render(w, r, http.StatusOK, "tokens", page{Title: "Tokens", Data: d})
}
