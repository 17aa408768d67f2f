package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xpush/xpush/server/send"
	"github.com/xpush/xpush/server/store"
)

// ContentSecurityPolicy is sent with every console response: no inline
// script or style, nothing loaded from elsewhere except images (the
// preview of a notification's uri).
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' https: http: data:; " +
	"script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Limits on requests.
const (
	// maxForm bounds a form body: a message of notification.MaxMessageLen
	// bytes, percent-encoded, and the other fields.
	maxForm = 512 << 10
	// maxQuery bounds a search string.
	maxQuery = 256
	// pageSize is the number of rows on a history or user page.
	pageSize = 25
	// maxPage bounds the page number in a URL.
	maxPage = 1_000_000
	// maxRecipientsShown bounds the rows of a notification's detail page.
	maxRecipientsShown = 1000
	// hashSlots bounds concurrent argon2id checks (64 MiB each).
	hashSlots = 2
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Presence tells the console who is online. [C2SPresence] adapts the c2s
// listener.
type Presence interface {
	// SessionsOf returns user's bound sessions.
	SessionsOf(user string) []SessionInfo
}

// SessionInfo is one bound session of a user, as the console shows it.
type SessionInfo struct {
	Resource string
	Since    time.Time
	IP       string
	Online   bool // false while detached, waiting for stream resumption
}

// Metrics counts failed admin logins; *metrics.Metrics implements it.
type Metrics interface {
	AuthFailure()
}

// Options configure a Console.
type Options struct {
	Store  store.Store
	Sender *send.Sender
	// Presence may be nil when the server has no c2s listener (component
	// mode); users are then shown without online state.
	Presence Presence
	// Iters is the PBKDF2 iteration count for account keys; 0 means
	// account.DefaultIters.
	Iters int
	// LegacyDigest keeps the clear password of accounts made here, as the
	// server does for registrations when the paper's digest login is on.
	LegacyDigest bool
	// Secure sets the session cookie's Secure flag: true unless the
	// console is served over plain HTTP on loopback.
	Secure  bool
	Metrics Metrics // may be nil
	Logger  *slog.Logger
	Now     func() time.Time
}

// Console is the web console, an http.Handler to mount at "/".
type Console struct {
	opts     Options
	mux      *http.ServeMux
	handler  http.Handler
	pages    map[string]*template.Template
	static   map[string]staticFile
	version  string // of the static files, for cache busting
	sessions *sessions
	throttle *throttle
	hashSem  chan struct{}
	cookie   string
}

type staticFile struct {
	data  []byte
	ctype string
	etag  string
}

// New builds a console. It does no I/O.
func New(opts Options) (*Console, error) {
	switch {
	case opts.Store == nil:
		return nil, errors.New("console: Options.Store is required")
	case opts.Sender == nil:
		return nil, errors.New("console: Options.Sender is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Console{
		opts:     opts,
		mux:      http.NewServeMux(),
		pages:    make(map[string]*template.Template),
		static:   make(map[string]staticFile),
		sessions: newSessions(opts.Now),
		throttle: newThrottle(opts.Now),
		hashSem:  make(chan struct{}, hashSlots),
		cookie:   "xpush-session",
	}
	if opts.Secure {
		// The __Host- prefix makes browsers insist on Secure, Path=/ and
		// no Domain.
		c.cookie = "__Host-xpush-session"
	}
	if err := c.loadStatic(); err != nil {
		return nil, err
	}
	if err := c.loadTemplates(); err != nil {
		return nil, err
	}
	c.routes()
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.renderError(w, r, errorf(http.StatusForbidden, "This request came from another site and was refused."))
	}))
	c.handler = cop.Handler(c.mux)
	return c, nil
}

func (c *Console) loadStatic() error {
	h := sha256.New()
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		name := strings.TrimPrefix(p, "static/")
		c.static[name] = staticFile{data: data, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		h.Write([]byte(name))
		h.Write(sum[:])
		return nil
	})
	if err != nil {
		return fmt.Errorf("console: static files: %w", err)
	}
	c.version = hex.EncodeToString(h.Sum(nil)[:6])
	return nil
}

func (c *Console) loadTemplates() error {
	funcs := template.FuncMap{
		"time":    fmtTime,
		"ago":     func(t time.Time) string { return ago(c.opts.Now(), t) },
		"path":    url.PathEscape,
		"isImage": isImage,
		"state":   stateClass,
		"short":   short,
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return fmt.Errorf("console: templates: %w", err)
	}
	for _, name := range names {
		base := path.Base(name)
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", name)
		if err != nil {
			return fmt.Errorf("console: template %s: %w", base, err)
		}
		c.pages[strings.TrimSuffix(base, ".html")] = t
	}
	return nil
}

// ServeHTTP serves the console. Every response carries the security
// headers; state-changing requests from another origin get 403.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.handler.ServeHTTP(w, r)
}

func (c *Console) routes() {
	c.mux.HandleFunc("GET /static/{file}", c.serveStatic)
	c.handle("GET /login", false, c.loginPage)
	c.handle("POST /login", false, c.login)
	c.handle("POST /logout", false, c.logout)
	c.handle("GET /{$}", true, c.sendPage)
	c.handle("POST /{$}", true, c.send)
	c.handle("GET /notifications", true, c.history)
	c.handle("GET /notifications/{id}", true, c.notification)
	c.handle("GET /console/api/notifications/{id}", true, c.notificationJSON)
	c.handle("GET /users", true, c.users)
	c.handle("POST /users", true, c.addUser)
	c.handle("GET /users/{name}", true, c.user)
	c.handle("POST /users/{name}/password", true, c.resetPassword)
	c.handle("POST /users/{name}/delete", true, c.deleteUser)
	c.handle("GET /tokens", true, c.tokens)
	c.handle("POST /tokens", true, c.createToken)
	c.handle("POST /tokens/revoke", true, c.revokeToken)
	c.handle("POST /invites", true, c.createInvite)
	c.handle("/", false, func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, "There is no page here.")
	})
}

// handlerFunc is a console handler: it writes a response, or returns an
// error for renderError to show.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

type ctxKey struct{}

// handle registers f under pattern; with auth, only for a logged-in admin.
func (c *Console) handle(pattern string, auth bool, f handlerFunc) {
	c.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loggedIn := c.loggedIn(r)
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, loggedIn))
		var err error
		switch {
		case auth && !loggedIn && (r.Method == http.MethodGet || r.Method == http.MethodHead) && !isAPI(r):
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		case auth && !loggedIn:
			err = &httpError{code: http.StatusUnauthorized, msg: "You are not logged in, or your session has ended. Log in again.", link: "/login", linkText: "Log in"}
		default:
			if r.Method == http.MethodPost {
				r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			}
			err = f(w, r)
		}
		if err != nil {
			c.renderError(w, r, err)
		}
	}))
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/console/api/") }

// httpError is an error with its status code and a sentence for the
// admin. With a view, the page is that view (a form shown again with the
// message) instead of the error page.
type httpError struct {
	code     int
	msg      string
	link     string
	linkText string
	view     string
	data     any
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) *httpError {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

// formError shows form view again, with data (what was entered) and the
// message at the top.
func formError(code int, view string, data any, format string, args ...any) *httpError {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...), view: view, data: data}
}

// renderError is the one place errors become responses. An error that is
// not an *httpError is logged and shown as a generic sentence.
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			he = errorf(http.StatusRequestEntityTooLarge, "The form is larger than %d KiB.", maxForm>>10)
		} else {
			c.opts.Logger.Error("console: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
			he = errorf(http.StatusInternalServerError, "Something went wrong. The details are in the server log.")
		}
	}
	if he.code == http.StatusUnauthorized && !isAPI(r) {
		w.Header().Set("WWW-Authenticate", `Cookie realm="xpushd console"`)
	}
	if isAPI(r) {
		writeJSON(w, he.code, map[string]string{"error": he.msg})
		return
	}
	view, data := "error", any(nil)
	if he.view != "" {
		view, data = he.view, he.data
	} else {
		ed := errorData{Link: he.link, LinkText: he.linkText}
		if ed.Link == "" {
			ed.Link, ed.LinkText = "/", "Back to the console"
		}
		data = ed
	}
	p := page{Error: he.msg, Data: data}
	if view == "error" {
		p.Title = http.StatusText(he.code)
	}
	if rerr := c.render(w, r, he.code, view, p); rerr != nil {
		c.opts.Logger.Error("console: render error page", "err", rerr, "for", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(he.code)
		fmt.Fprintln(w, he.msg)
	}
}

// errorData is the error page's link onwards.
type errorData struct {
	Link     string
	LinkText string
}

// page is what every template gets.
type page struct {
	Title    string
	Nav      string // the active menu entry
	LoggedIn bool
	Static   string // version of the static files
	Flash    string // a note after a successful action
	Error    string
	Data     any
}

// render executes the view into a buffer, so that a template error
// becomes an error page rather than half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, code int, view string, p page) error {
	t, ok := c.pages[view]
	if !ok {
		return fmt.Errorf("console: no view %q", view)
	}
	p.LoggedIn, _ = r.Context().Value(ctxKey{}).(bool)
	p.Static = c.version
	if p.Nav == "" {
		p.Nav = view
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("console: render %s: %w", view, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, err := w.Write(buf.Bytes())
	if err != nil {
		c.opts.Logger.Debug("console: write", "err", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (c *Console) serveStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := c.static[r.PathValue("file")]
	if !ok {
		c.renderError(w, r, errorf(http.StatusNotFound, "There is no file here."))
		return
	}
	w.Header().Set("Content-Type", f.ctype)
	w.Header().Set("ETag", f.etag)
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
}

// flashes are the notes a redirect can ask for with ?done=; fixed texts,
// so a link cannot make the console say something else.
var flashes = map[string]string{
	"sent":     "Sent. The states below update as recipients receive it.",
	"added":    "User added.",
	"deleted":  "User deleted.",
	"password": "Password changed.",
	"revoked":  "Token revoked.",
}

func flash(r *http.Request) string { return flashes[r.URL.Query().Get("done")] }

// pageNumber reads ?page=, 1 when absent.
func pageNumber(r *http.Request) (int, error) {
	s := r.URL.Query().Get("page")
	if s == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxPage {
		return 0, errorf(http.StatusBadRequest, "The page number must be between 1 and %d.", maxPage)
	}
	return n, nil
}

// searchQuery reads ?q=.
func searchQuery(r *http.Request) (string, error) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if len(q) > maxQuery {
		return "", errorf(http.StatusBadRequest, "The search is longer than %d characters.", maxQuery)
	}
	return q, nil
}

// pageLink returns base with q and page as its query.
func pageLink(base, q string, n int) string {
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	if n > 1 {
		v.Set("page", strconv.Itoa(n))
	}
	if len(v) == 0 {
		return base
	}
	return base + "?" + v.Encode()
}

// clientAddr is the address failed logins are counted against. The
// console trusts no forwarding header: behind a proxy every client
// shares the proxy's budget.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// ago says how long ago t was, to the minute, in at most two units.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case t.IsZero():
		return ""
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd %dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

var imageExts = []string{".png", ".jpg", ".jpeg", ".gif", ".webp"}

// isImage reports whether uri is an http(s) URL whose path ends in an
// image extension: the send form previews it, the detail page shows it.
func isImage(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return false
	}
	ext := strings.ToLower(path.Ext(u.Path))
	for _, e := range imageExts {
		if ext == e {
			return true
		}
	}
	return false
}

// short cuts s to at most maxShort characters, for a table cell.
func short(s string) string {
	const maxShort = 160
	if utf8.RuneCountInString(s) <= maxShort {
		return s
	}
	return string([]rune(s)[:maxShort-1]) + "…"
}

// stateClass is the CSS class of a delivery state's badge.
func stateClass(s string) string {
	switch s {
	case store.StateQueued, store.StateSent, store.StateAcked, store.StateExpired:
		return "badge " + s
	}
	return "badge"
}

// atoiBounded parses a decimal integer in [lo, hi].
func atoiBounded(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, errors.New("console: number out of range")
	}
	return n, nil
}
