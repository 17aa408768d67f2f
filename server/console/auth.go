package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/xpush/xpush/server/store"
)

type loginData struct {
	Next    string
	NoAdmin bool // no admin password is set
}

// loggedIn reports whether r carries a live session cookie.
func (c *Console) loggedIn(r *http.Request) bool {
	ck, err := r.Cookie(c.cookie)
	return err == nil && c.sessions.valid(ck.Value)
}

// adminHash returns the stored admin password hash, nil when none is set.
func (c *Console) adminHash(ctx context.Context) ([]byte, error) {
	h, err := c.opts.Store.AdminHash(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("console: admin hash: %w", err)
	}
	return h, nil
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) error {
	next := safeNext(r.URL.Query().Get("next"))
	if c.loggedIn(r) {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	h, err := c.adminHash(r.Context())
	if err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "login", page{Title: "Log in", Data: loginData{Next: next, NoAdmin: h == nil}})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	data := loginData{Next: safeNext(r.PostForm.Get("next"))}
	addr := clientAddr(r)
	if wait := c.throttle.wait(addr); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return formError(http.StatusTooManyRequests, "login", data, "Too many wrong passwords. Try again in %d seconds.", secs)
	}
	hash, err := c.adminHash(r.Context())
	if err != nil {
		return err
	}
	if hash == nil {
		data.NoAdmin = true
		return formError(http.StatusForbidden, "login", data, "No admin password is set yet.")
	}
	select {
	case c.hashSem <- struct{}{}:
	case <-r.Context().Done():
		return r.Context().Err()
	}
	ok := CheckPassword(hash, r.PostForm.Get("password"))
	<-c.hashSem
	if !ok {
		c.throttle.fail(addr)
		if c.opts.Metrics != nil {
			c.opts.Metrics.AuthFailure()
		}
		c.opts.Logger.Warn("console: failed admin login", "ip", addr)
		return formError(http.StatusUnauthorized, "login", data, "Wrong password.")
	}
	c.throttle.ok(addr)
	// A fresh id on every login: a cookie planted before login is useless.
	if ck, err := r.Cookie(c.cookie); err == nil {
		c.sessions.end(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{
		Name: c.cookie, Value: c.sessions.create(), Path: "/",
		HttpOnly: true, Secure: c.opts.Secure, SameSite: http.SameSiteStrictMode,
	})
	c.opts.Logger.Info("console: admin logged in", "ip", addr)
	http.Redirect(w, r, data.Next, http.StatusSeeOther)
	return nil
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) error {
	if ck, err := r.Cookie(c.cookie); err == nil {
		c.sessions.end(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{
		Name: c.cookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: c.opts.Secure, SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// safeNext returns next when it is a path on this site, "/" otherwise, so
// that the login form cannot send the admin elsewhere.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n\t") || strings.HasPrefix(next, "/login") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// badForm is the error for a form body that does not parse.
func badForm(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return errorf(http.StatusBadRequest, "The form could not be read.")
}
