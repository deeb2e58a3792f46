package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// defaultProcessMetrics is where `provbus process` serves /metrics: the
// loopback, like ingest.listen, so a first run exposes nothing; containers
// pass --metrics 0.0.0.0:9464. 9464 is the port Prometheus exporters of
// the OpenTelemetry ecosystem use, and clear of ingest's 8080 and the
// registry's 8081.
const defaultProcessMetrics = "127.0.0.1:9464"

// serveMetrics runs work while serving e's metrics on addr (GET /metrics,
// GET /healthz), for processes without an HTTP API of their own. addr
// "off" or "" runs work alone. A listen failure fails at start, before
// work runs: a process that cannot be watched should not start silently.
func serveMetrics(ctx context.Context, e *env, addr string, work func(context.Context) error) error {
	if addr == "" || addr == "off" {
		return work(ctx)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%w: --metrics %s: %v", errUsage, addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", e.metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeStatus(w, true, "ok") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10}
	e.log.Info("serving metrics", zap.String("addr", "http://"+ln.Addr().String()+"/metrics"))

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("metrics server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		// The server stops when the work does, for whatever reason, so
		// a failed processor does not leave a healthy-looking process.
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		return work(gctx)
	})
	return g.Wait()
}
