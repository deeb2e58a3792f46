package main

import (
	"context"
	"flag"
	"fmt"

	"go.uber.org/zap"

	"github.com/provbus/provbus/internal/kclient"
	"github.com/provbus/provbus/producers/ingest"
)

// Registered here rather than in main.go so the ingest command is one file.
func init() {
	commands["ingest"] = command{
		summary: "serve the source webhooks (PortaBilling ESPF, Transatel, JeraSoft) against a cluster",
		example: "provbus ingest --config provbus.yaml --brokers kafka:9092",
		run:     runIngest,
	}
}

const ingestUsage = `usage: provbus ingest [flags]

Serves POST /v1/sources/{portabilling,transatel,jerasoft}/events, /healthz,
/readyz and /metrics, producing to the cluster of --brokers/--registry.
Refuses to start without source credentials (ingest.auth in the config
file) unless --insecure-no-auth. See docs/ingest.md.

flags:
`

// runIngest serves the ingest HTTP API until ctx is cancelled, then drains
// in-flight requests.
func runIngest(ctx context.Context, g *globals, args []string) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	addr := fs.String("http", "", "listen address (default ingest.listen, 127.0.0.1:8080)")
	insecure := fs.Bool("insecure-no-auth", false, "start even though no source has credentials (development only)")
	if err := parseFlags(fs, ingestUsage, args); err != nil {
		return err
	}
	e, err := g.load()
	if err != nil {
		return err
	}
	defer func() { _ = e.log.Sync() }()
	if !e.cfg.Ingest.Auth.HasSourceAuth() && !*insecure && !e.cfg.Ingest.InsecureNoAuth {
		return fmt.Errorf("%w: no source credentials configured (ingest.auth); pass --insecure-no-auth to run open", errUsage)
	}
	if *addr == "" {
		*addr = e.cfg.Ingest.Listen
	}
	srv, err := newIngestServer(ctx, e)
	if err != nil {
		return err
	}
	defer srv.Close()
	return srv.Run(ctx, *addr)
}

// newIngestServer builds the ingest server for e's cluster, registry,
// catalog and credentials; import uses it too.
func newIngestServer(ctx context.Context, e *env) (*ingest.Server, error) {
	kopts, err := kclient.Opts(e.cfg.Kafka, e.log)
	if err != nil {
		return nil, err
	}
	reg, err := e.registryClient()
	if err != nil {
		return nil, err
	}
	srv, err := ingest.New(ctx,
		ingest.WithKafka(kopts...),
		ingest.WithRegistry(reg),
		ingest.WithCatalog(e.catalog),
		ingest.WithNamespace(e.namespace()),
		ingest.WithAuth(e.cfg.Ingest.Auth),
		ingest.WithMaxBodyBytes(e.cfg.Ingest.MaxBodyBytes),
		ingest.WithLogger(e.log.Named("ingest")),
		ingest.WithMetrics(e.metrics),
	)
	if err != nil {
		return nil, err
	}
	e.log.Info("ingest ready", zap.Strings("brokers", e.cfg.Kafka.Brokers), zap.String("registry", e.cfg.Registry.URL))
	return srv, nil
}
