package console

import (
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/xpush/xpush/server/account"
	"github.com/xpush/xpush/server/c2s"
	"github.com/xpush/xpush/server/store"
)

// C2SPresence adapts the c2s listener (*c2s.Server) to Presence.
func C2SPresence(srv interface{ SessionsOf(string) []*c2s.Session }) Presence {
	return c2sPresence{srv}
}

type c2sPresence struct {
	srv interface{ SessionsOf(string) []*c2s.Session }
}

func (p c2sPresence) SessionsOf(user string) []SessionInfo {
	ss := p.srv.SessionsOf(user)
	out := make([]SessionInfo, 0, len(ss))
	for _, s := range ss {
		out = append(out, SessionInfo{Resource: s.Resource(), Since: s.Since(), IP: s.IP(), Online: s.Online()})
	}
	return out
}

type userRow struct {
	Name     string
	Created  time.Time
	Known    bool // presence is known
	Online   bool
	Sessions []SessionInfo
}

type usersData struct {
	Query string
	Page  int
	Total int
	Rows  []userRow
	Prev  string
	Next  string
	Add   addUserForm
}

type addUserForm struct {
	Name string
}

type userData struct {
	User     userRow
	Password string // a generated password, shown once
}

func (c *Console) userRow(u store.User) userRow {
	row := userRow{Name: u.Name, Created: u.Created}
	if c.opts.Presence != nil {
		row.Known = true
		row.Sessions = c.opts.Presence.SessionsOf(u.Name)
		for _, s := range row.Sessions {
			row.Online = row.Online || s.Online
		}
	}
	return row
}

func (c *Console) usersData(r *http.Request) (usersData, error) {
	q, err := searchQuery(r)
	if err != nil {
		return usersData{}, err
	}
	pg, err := pageNumber(r)
	if err != nil {
		return usersData{}, err
	}
	us, err := c.opts.Store.ListUsers(r.Context(), store.Page{Query: q, Offset: (pg - 1) * pageSize, Limit: pageSize + 1})
	if err != nil {
		return usersData{}, err
	}
	total, err := c.opts.Store.CountUsers(r.Context())
	if err != nil {
		return usersData{}, err
	}
	d := usersData{Query: q, Page: pg, Total: total}
	if len(us) > pageSize {
		us = us[:pageSize]
		d.Next = pageLink("/users", q, pg+1)
	}
	if pg > 1 {
		d.Prev = pageLink("/users", q, pg-1)
	}
	for _, u := range us {
		d.Rows = append(d.Rows, c.userRow(u))
	}
	return d, nil
}

func (c *Console) users(w http.ResponseWriter, r *http.Request) error {
	d, err := c.usersData(r)
	if err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "users", page{Title: "Users", Flash: flash(r), Data: d})
}

func (c *Console) addUser(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	d, err := c.usersData(r)
	if err != nil {
		return err
	}
	d.Add.Name = r.PostForm.Get("name")
	bad := func(code int, format string, args ...any) error {
		return formError(code, "users", d, format, args...)
	}
	name, err := account.Normalize(strings.TrimSpace(d.Add.Name))
	if err != nil {
		return bad(http.StatusBadRequest, "That is not a valid user name: it must be a valid XMPP localpart, without @ or /.")
	}
	password, generated, err := c.password(r)
	if err != nil {
		return bad(http.StatusBadRequest, "%s", err.Error())
	}
	sha1c, sha256c, err := account.Keys(name, password, c.opts.Iters)
	if err != nil {
		return err
	}
	u := store.User{Name: name, SHA1: sha1c, SHA256: sha256c, Created: c.opts.Now()}
	if c.opts.LegacyDigest {
		u.Legacy = password
	}
	err = c.opts.Store.CreateUser(r.Context(), u)
	switch {
	case errors.Is(err, store.ErrExists):
		return bad(http.StatusConflict, "A user named %s exists already.", name)
	case err != nil:
		return err
	}
	c.opts.Logger.Info("console: user added", "user", name)
	if !generated {
		http.Redirect(w, r, "/users/"+url.PathEscape(name)+"?done=added", http.StatusSeeOther)
		return nil
	}
	return c.render(w, r, http.StatusOK, "user", page{
		Title: name, Nav: "users", Flash: "User added.",
		Data: userData{User: c.userRow(u), Password: password},
	})
}

type formMsg string

func (e formMsg) Error() string { return string(e) }

// password returns the form's password, checked, or a generated one
// when the field is empty.
func (c *Console) password(r *http.Request) (pw string, generated bool, err error) {
	pw = r.PostForm.Get("password")
	if pw == "" {
		return rand.Text(), true, nil
	}
	if err := account.CheckPassword(pw); err != nil {
		if errors.Is(err, account.ErrBadPassword) {
			return "", false, formMsg("The password has characters that cannot be used (control characters or invalid UTF-8).")
		}
		if len(pw) < account.MinPassword {
			return "", false, formMsg("The password must have at least " + strconv.Itoa(account.MinPassword) + " characters.")
		}
		return "", false, formMsg("The password is too long.")
	}
	return pw, false, nil
}

// lookupUser returns the account named in the path, or a 404.
func (c *Console) lookupUser(r *http.Request) (store.User, error) {
	u, err := c.opts.Store.User(r.Context(), r.PathValue("name"))
	if errors.Is(err, store.ErrNotFound) {
		return u, errorf(http.StatusNotFound, "There is no user with this name.")
	}
	return u, err
}

func (c *Console) user(w http.ResponseWriter, r *http.Request) error {
	u, err := c.lookupUser(r)
	if err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "user", page{Title: u.Name, Nav: "users", Flash: flash(r), Data: userData{User: c.userRow(u)}})
}

func (c *Console) resetPassword(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	u, err := c.lookupUser(r)
	if err != nil {
		return err
	}
	password, generated, err := c.password(r)
	if err != nil {
		return formError(http.StatusBadRequest, "user", userData{User: c.userRow(u)}, "%s", err.Error())
	}
	sha1c, sha256c, err := account.Keys(u.Name, password, c.opts.Iters)
	if err != nil {
		return err
	}
	legacy := ""
	if c.opts.LegacyDigest {
		legacy = password
	}
	err = c.opts.Store.SetCredentials(r.Context(), u.Name, sha1c, sha256c, legacy)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, "There is no user with this name.")
	case err != nil:
		return err
	}
	c.opts.Logger.Info("console: password reset", "user", u.Name)
	if !generated {
		http.Redirect(w, r, "/users/"+url.PathEscape(u.Name)+"?done=password", http.StatusSeeOther)
		return nil
	}
	return c.render(w, r, http.StatusOK, "user", page{
		Title: u.Name, Nav: "users", Flash: "Password changed.",
		Data: userData{User: c.userRow(u), Password: password},
	})
}

func (c *Console) deleteUser(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	err := c.opts.Store.DeleteUser(r.Context(), name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, "There is no user with this name.")
	case err != nil:
		return err
	}
	c.opts.Logger.Info("console: user deleted", "user", name)
	http.Redirect(w, r, "/users?done=deleted", http.StatusSeeOther)
	return nil
}
