package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// apiRequest is the body of xpushd's POST /api/v1/notifications.
type apiRequest struct {
	To      []string `json:"to,omitempty"`
	All     bool     `json:"all,omitempty"`
	Title   string   `json:"title"`
	Message string   `json:"message"`
	URI     string   `json:"uri,omitempty"`
	TTL     string   `json:"ttl,omitempty"`
	ID      string   `json:"id,omitempty"`
}

// apiStatus is the part of GET /api/v1/notifications/{id} the tool reads.
type apiStatus struct {
	ID         string `json:"id"`
	Recipients []struct {
		User  string `json:"user"`
		State string `json:"state"`
	} `json:"recipients"`
}

func (s *apiStatus) state(user string) string {
	for _, r := range s.Recipients {
		if r.User == user {
			return r.State
		}
	}
	return ""
}

// apiClient talks to xpushd's HTTP API over kept-alive connections.
type apiClient struct {
	base, token string
	hc          *http.Client
}

func newAPIClient(base, token string) *apiClient {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &apiClient{base: base, token: token, hc: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// maxAnswer bounds what the tool reads of an answer (a broadcast's status
// lists every account).
const maxAnswer = 64 << 20

func (a *apiClient) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("api: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("api: %s %s: %w", method, path, err)
	}
	return resp.StatusCode, b, nil
}

// check fails early on a wrong URL or token: an unknown notification is
// a 404 with a good token and a 401 with a bad one.
func (a *apiClient) check() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code, body, err := a.do(ctx, http.MethodGet, "/api/v1/notifications/xpush-bench-check", nil)
	switch {
	case err != nil:
		return err
	case code == http.StatusNotFound:
		return nil
	case code == http.StatusUnauthorized:
		return fmt.Errorf("api: the token was refused: %s", bytes.TrimSpace(body))
	}
	return fmt.Errorf("api: GET /api/v1/notifications/ answered %d: %s", code, bytes.TrimSpace(body))
}

// post sends a notification and returns once the API accepted it.
func (a *apiClient) post(ctx context.Context, r apiRequest) error {
	code, body, err := a.do(ctx, http.MethodPost, "/api/v1/notifications", r)
	if err != nil {
		return err
	}
	if code != http.StatusAccepted {
		return fmt.Errorf("api: POST answered %d: %s", code, bytes.TrimSpace(body))
	}
	return nil
}

// status returns the delivery states of notification id.
func (a *apiClient) status(ctx context.Context, id string) (*apiStatus, error) {
	code, body, err := a.do(ctx, http.MethodGet, "/api/v1/notifications/"+url.PathEscape(id), nil)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("api: GET %s answered %d: %s", id, code, bytes.TrimSpace(body))
	}
	var st apiStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("api: GET %s: %w", id, err)
	}
	return &st, nil
}

// goMem is what xpushd's /metrics says about its Go runtime.
type goMem struct {
	Goroutines     float64 `json:"goroutines"`
	HeapAllocKiB   float64 `json:"heap_alloc_kib"`
	HeapInuseKiB   float64 `json:"heap_inuse_kib"`
	StackInuseKiB  float64 `json:"stack_inuse_kib"`
	NextGCKiB      float64 `json:"next_gc_kib"`
	HeapReleaseKiB float64 `json:"heap_released_kib"`
	// AcksTotal is xpushd_acks_total: acknowledgements written to the
	// store.
	AcksTotal float64 `json:"acks_total"`
}

// metrics reads the Go runtime gauges from GET /metrics (Prometheus
// text format); nil when there are none.
func (a *apiClient) metrics(ctx context.Context) *goMem {
	code, body, err := a.do(ctx, http.MethodGet, "/metrics", nil)
	if err != nil || code != http.StatusOK {
		return nil
	}
	return parseGoMetrics(body)
}

func parseGoMetrics(text []byte) *goMem {
	var m goMem
	found := 0
	for _, line := range bytes.Split(text, []byte("\n")) {
		name, value, ok := bytes.Cut(line, []byte(" "))
		if !ok || len(line) == 0 || line[0] == '#' {
			continue
		}
		v, err := strconv.ParseFloat(string(bytes.TrimSpace(value)), 64)
		if err != nil {
			continue
		}
		dst := map[string]*float64{
			"go_goroutines":                   &m.Goroutines,
			"go_memstats_heap_alloc_bytes":    &m.HeapAllocKiB,
			"go_memstats_heap_inuse_bytes":    &m.HeapInuseKiB,
			"go_memstats_stack_inuse_bytes":   &m.StackInuseKiB,
			"go_memstats_next_gc_bytes":       &m.NextGCKiB,
			"go_memstats_heap_released_bytes": &m.HeapReleaseKiB,
			"xpushd_acks_total":               &m.AcksTotal,
		}[string(name)]
		if dst == nil {
			continue
		}
		if strings.HasSuffix(string(name), "_bytes") {
			v /= 1024
		}
		*dst = v
		found++
	}
	if found == 0 {
		return nil
	}
	return &m
}
