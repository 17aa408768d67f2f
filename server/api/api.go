package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/xpush/xpush/server/send"
	"github.com/xpush/xpush/server/store"
)

// MaxBody bounds a request body.
const MaxBody = 256 << 10

// Tokens looks API tokens up by hash.
type Tokens interface {
	APIToken(ctx context.Context, hash []byte) (store.Token, error)
}

// Handler serves the API.
type Handler struct {
	Tokens Tokens
	Sender *send.Sender
	Logger *slog.Logger
	Now    func() time.Time
}

// Request is the body of POST /api/v1/notifications.
type Request struct {
	To      []string `json:"to"`
	All     bool     `json:"all"`
	Title   string   `json:"title"`
	Message string   `json:"message"`
	URI     string   `json:"uri"`
	TTL     string   `json:"ttl"`
	// ID lets a caller make a send idempotent; generated when empty.
	ID string `json:"id,omitempty"`
}

// Status is the answer of GET /api/v1/notifications/{id}.
type Status struct {
	ID         string      `json:"id"`
	Title      string      `json:"title"`
	Message    string      `json:"message"`
	URI        string      `json:"uri"`
	All        bool        `json:"all"`
	Created    time.Time   `json:"created"`
	Expires    time.Time   `json:"expires"`
	Recipients []Recipient `json:"recipients"`
}

// Recipient is one recipient's delivery state.
type Recipient struct {
	User    string    `json:"user"`
	State   string    `json:"state"`
	Updated time.Time `json:"updated,omitzero"`
}

// Register adds the API's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/notifications", h.auth(h.post))
	mux.Handle("GET /api/v1/notifications/{id}", h.auth(h.get))
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, token store.Token) error

// httpError is an error with its status code and a message for the caller.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) error {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

// auth checks the bearer token, runs f and renders its error.
func (h *Handler) auth(f handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="xpushd"`)
			writeError(w, errorf(http.StatusUnauthorized, "missing API token: send Authorization: Bearer TOKEN"))
			return
		}
		sum := sha256.Sum256([]byte(tok))
		t, err := h.Tokens.APIToken(r.Context(), sum[:])
		if err != nil || !t.Expires.IsZero() && h.Now().After(t.Expires) {
			writeError(w, errorf(http.StatusUnauthorized, "invalid or revoked API token"))
			return
		}
		if err := f(w, r, t); err != nil {
			var he *httpError
			if !errors.As(err, &he) {
				h.Logger.Error("api: internal error", "path", r.URL.Path, "err", err)
				err = errorf(http.StatusInternalServerError, "internal error; see the server log")
			}
			writeError(w, err)
		}
	})
}

func writeError(w http.ResponseWriter, err error) {
	var he *httpError
	errors.As(err, &he)
	writeJSON(w, he.code, map[string]string{"error": he.msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// DecodeRequest reads a notification request strictly: size-limited, no
// unknown fields, nothing after the object.
func DecodeRequest(body io.Reader) (Request, error) {
	var req Request
	dec := json.NewDecoder(io.LimitReader(body, MaxBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return req, errorf(http.StatusRequestEntityTooLarge, "body larger than %d bytes", MaxBody)
		case errors.Is(err, io.EOF):
			return req, errorf(http.StatusBadRequest, "empty body: send a JSON object")
		}
		var typeErr *json.UnmarshalTypeError
		var synErr *json.SyntaxError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return req, errorf(http.StatusBadRequest, "bad JSON: field %q has the wrong type", typeErr.Field)
		case errors.As(err, &typeErr):
			return req, errorf(http.StatusBadRequest, "bad JSON: send one JSON object")
		case errors.As(err, &synErr):
			return req, errorf(http.StatusBadRequest, "bad JSON at byte %d", synErr.Offset)
		}
		return req, errorf(http.StatusBadRequest, "bad JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return req, errorf(http.StatusBadRequest, "bad JSON: data after the object")
	}
	return req, nil
}

func (h *Handler) post(w http.ResponseWriter, r *http.Request, tok store.Token) error {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	req, err := DecodeRequest(r.Body)
	if err != nil {
		return err
	}
	var ttl time.Duration
	if req.TTL != "" {
		if ttl, err = time.ParseDuration(req.TTL); err != nil {
			return errorf(http.StatusBadRequest, "ttl %q: use a duration such as 30m or 24h", req.TTL)
		}
	}
	id, err := h.Sender.Send(r.Context(), send.Request{
		ID: req.ID, To: req.To, All: req.All, Title: req.Title, Message: req.Message,
		URI: req.URI, TTL: ttl, Sender: "token:" + tok.Name,
	})
	var ve *send.ValidationError
	switch {
	case errors.As(err, &ve):
		return errorf(http.StatusBadRequest, "%s", ve.Error())
	case errors.Is(err, store.ErrExists):
		return errorf(http.StatusConflict, "a notification with id %q exists already", req.ID)
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id})
	return nil
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, _ store.Token) error {
	n, ds, err := h.Sender.Status(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "no notification with id %q", r.PathValue("id"))
	}
	if err != nil {
		return err
	}
	st := Status{
		ID: n.ID, Title: n.Title, Message: n.Message, URI: n.URI, All: n.Broadcast,
		Created: n.Created, Expires: n.Expires, Recipients: make([]Recipient, 0, len(ds)),
	}
	for _, d := range ds {
		st.Recipients = append(st.Recipients, Recipient{User: d.User, State: d.State, Updated: d.Updated})
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}
