package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// serveDebug serves Go's profiler (net/http/pprof) on l until ctx ends.
// It is for operators profiling a live server: --debug takes only a
// loopback address, because profiles show the server's memory.
func serveDebug(ctx context.Context, l net.Listener, logger *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	})
	defer stop()
	if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("xpushd: debug listener", "err", err)
	}
}

// checkDebugAddr refuses a --debug address off this machine (check has
// made sure it is HOST:PORT).
func checkDebugAddr(addr string) error {
	if addr != "" && !isLoopback(addr) {
		return usagef("--debug %q must be a loopback address: profiles show the server's memory", addr)
	}
	return nil
}

// listenDebug opens the --debug listener, or returns nil when it is off.
func listenDebug(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen for the profiler on %s: %w", addr, err)
	}
	return l, nil
}
