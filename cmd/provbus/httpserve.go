package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"
)

// newHTTPServer is the server of provbus's user-facing listeners (dev's
// webhooks and console, provbus console): every phase of a request is
// bounded, so a slow or idle client holds a connection for a bounded time.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
}

// serveInGroup serves srv on ln in grp until gctx ends, then shuts it down,
// giving in-flight requests up to drain to finish.
func serveInGroup(grp *errgroup.Group, gctx context.Context, srv *http.Server, ln net.Listener, drain time.Duration) {
	grp.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	grp.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), drain)
		defer cancel()
		return srv.Shutdown(sctx)
	})
}
