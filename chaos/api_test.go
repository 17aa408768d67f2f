package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/xpush/xpush/server/api"
)

// apiClient talks to xpushd's HTTP API, which the test kills at any
// moment: every call is bounded by its context and the client timeout.
type apiClient struct {
	base  string // http://host:port
	token string
	hc    *http.Client
}

func newAPIClient(httpAddr, token string, conns int) *apiClient {
	return &apiClient{
		base:  "http://" + httpAddr,
		token: token,
		hc: &http.Client{
			Timeout:   20 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: conns, IdleConnTimeout: 30 * time.Second},
		},
	}
}

// do makes one request and returns the status code and the body (at
// most 64 MiB: a broadcast's status lists every account).
func (a *apiClient) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

// Tries of one request while the server is down: the pause between
// them doubles from retryMin to retryMax.
const (
	retryMin = 50 * time.Millisecond
	retryMax = time.Second
	maxTries = 2000 // with the pauses, longer than any restart
)

// send posts req until the API has it: 202, or 409 when an earlier try
// that seemed lost (the server was killed before it answered) went
// through. It returns the number of tries. Any other answer is a fault of
// the test and is returned as an error.
func (a *apiClient) send(ctx context.Context, req api.Request) (int, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return 0, err
	}
	pause := retryMin
	for try := 1; try <= maxTries; try++ {
		code, b, err := a.do(ctx, http.MethodPost, "/api/v1/notifications", body)
		switch {
		case err == nil && code == http.StatusAccepted:
			var out struct{ ID string }
			if err := json.Unmarshal(b, &out); err != nil || out.ID != req.ID {
				return try, fmt.Errorf("POST %s: 202 with %q, want id %q", req.ID, b, req.ID)
			}
			return try, nil
		case err == nil && code == http.StatusConflict:
			return try, nil
		case err == nil && code < 500:
			return try, fmt.Errorf("POST %s: %d %s", req.ID, code, b)
		}
		// Down, restarting, or cut off mid-answer: try again.
		select {
		case <-ctx.Done():
			return try, fmt.Errorf("POST %s: gave up after %d tries: %w (last: %d %v)", req.ID, try, ctx.Err(), code, err)
		case <-time.After(pause):
		}
		pause = min(2*pause, retryMax)
	}
	return maxTries, fmt.Errorf("POST %s: no answer after %d tries", req.ID, maxTries)
}

// status returns the API's view of notification id, retrying while the
// server is unreachable.
func (a *apiClient) status(ctx context.Context, id string) (api.Status, error) {
	var st api.Status
	pause := retryMin
	for try := 1; try <= maxTries; try++ {
		code, b, err := a.do(ctx, http.MethodGet, "/api/v1/notifications/"+id, nil)
		switch {
		case err == nil && code == http.StatusOK:
			if err := json.Unmarshal(b, &st); err != nil {
				return st, fmt.Errorf("GET %s: %w", id, err)
			}
			return st, nil
		case err == nil && code < 500:
			return st, fmt.Errorf("GET %s: %d %s", id, code, b)
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("GET %s: %w (last: %d %v)", id, ctx.Err(), code, err)
		case <-time.After(pause):
		}
		pause = min(2*pause, retryMax)
	}
	return st, fmt.Errorf("GET %s: no answer after %d tries", id, maxTries)
}
