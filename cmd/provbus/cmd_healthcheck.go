package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

// The container image is distroless (no shell, no curl), so a container
// healthcheck needs the binary itself to make the HTTP probe:
// docker-compose.yml runs `provbus healthcheck` for the ingest service.
func init() {
	commands["healthcheck"] = command{
		summary: "probe an HTTP health endpoint, exit 0 when it answers 2xx (container healthchecks)",
		example: "provbus healthcheck --url http://127.0.0.1:8080/readyz --timeout 2s",
		run:     runHealthcheck,
	}
}

func runHealthcheck(ctx context.Context, _ *globals, args []string) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8080/healthz", "URL to GET")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := parseFlagsArgs(fs, "", args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s", *url, resp.Status)
	}
	return nil
}
