package main

import (
	"context"
	"flag"
	"fmt"
	"sort"

	"go.uber.org/zap"

	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/internal/kclient"
	"github.com/provbus/provbus/producers/edge"
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

Serves POST /v1/sources/{portabilling,transatel,jerasoft}/events, /healthz
and /readyz on --http (HTTPS with ingest.tls), and /metrics apart on
--metrics, producing to the cluster of --brokers/--registry.

A source is served only when it has credentials (ingest.auth) or is marked
ingest.sources.<name>.insecure; any other answers 404. Refuses to start
when no source is served, and on a non-loopback address while a source is
open without ingest.sources.<name>.insecure_public. --insecure-no-auth
opens every source without credentials (development, loopback only). See
docs/ingest.md.

flags:
`

// runIngest serves the ingest HTTP API until ctx is cancelled, then drains
// in-flight requests.
func runIngest(ctx context.Context, g *globals, args []string) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	addr := fs.String("http", "", "listen address (default ingest.listen, 127.0.0.1:8080)")
	metricsAddr := fs.String("metrics", "", `address of /metrics and /healthz (default ingest.metrics_listen, 127.0.0.1:9465; "off" serves nothing)`)
	insecure := fs.Bool("insecure-no-auth", false, "open every source without credentials (development only; loopback only)")
	if err := parseFlags(fs, ingestUsage, args); err != nil {
		return err
	}
	e, err := g.load()
	if err != nil {
		return err
	}
	defer func() { _ = e.log.Sync() }()
	if *insecure || e.cfg.Ingest.InsecureNoAuth {
		openUnauthenticated(&e.cfg.Ingest)
	}
	if *addr == "" {
		*addr = e.cfg.Ingest.Listen
	}
	if *metricsAddr == "" {
		*metricsAddr = e.cfg.Ingest.MetricsListen
	}
	srv, err := newIngestServer(ctx, e)
	if err != nil {
		return err
	}
	defer srv.Close()
	served := srv.Served()
	if len(served) == 0 {
		return fmt.Errorf("%w: no source is served: configure credentials (ingest.auth), or mark a source ingest.sources.<name>.insecure (or pass --insecure-no-auth) to run it open", errUsage)
	}
	if err := srv.CheckListen(*addr); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	var names, open []string
	for name, isOpen := range served {
		names = append(names, name)
		if isOpen {
			open = append(open, name)
		}
	}
	sort.Strings(names)
	sort.Strings(open)
	e.log.Info("sources served", zap.Strings("sources", names), zap.Strings("open_without_credentials", open))
	return serveMetrics(ctx, e, *metricsAddr, func(ctx context.Context) error {
		return srv.Run(ctx, *addr)
	})
}

// openUnauthenticated marks every source without credentials insecure:
// --insecure-no-auth, and provbus dev's defaults.
func openUnauthenticated(in *config.Ingest) {
	for _, name := range config.SourceNames {
		if !in.Auth.Has(name) {
			p := in.Sources.Policy(name)
			p.Insecure = true
			in.Sources.SetPolicy(name, p)
		}
	}
}

// newIngestServer builds the ingest server for e's cluster, registry,
// catalog, credentials, source policies and limits; import uses it too.
func newIngestServer(ctx context.Context, e *env) (*ingest.Server, error) {
	kopts, err := kclient.Opts(e.cfg.Kafka, e.log)
	if err != nil {
		return nil, err
	}
	reg, err := e.registryClient()
	if err != nil {
		return nil, err
	}
	in := e.cfg.Ingest
	srv, err := ingest.New(ctx,
		ingest.WithKafka(kopts...),
		ingest.WithRegistry(reg),
		ingest.WithCatalog(e.catalog),
		ingest.WithNamespace(e.namespace()),
		ingest.WithAuth(in.Auth),
		ingest.WithSources(in.Sources),
		ingest.WithTrustedProxies(in.TrustedProxies...),
		ingest.WithLimits(edgeLimits(in.Limits)),
		ingest.WithTLS(in.TLS.CertFile, in.TLS.KeyFile),
		ingest.WithMaxBodyBytes(in.MaxBodyBytes),
		ingest.WithLogger(e.log.Named("ingest")),
		ingest.WithMetrics(e.metrics),
	)
	if err != nil {
		return nil, err
	}
	e.log.Info("ingest ready", zap.Strings("brokers", e.cfg.Kafka.Brokers), zap.String("registry", e.cfg.Registry.URL))
	return srv, nil
}

// edgeLimits are the configured request limits as the edge holds them.
func edgeLimits(l config.Limits) edge.Limits {
	return edge.Limits{MaxDepth: l.MaxDepth, MaxEvents: l.MaxEvents, MaxAttributes: l.MaxAttributes,
		MaxAttributeBytes: l.MaxAttributeBytes, MaxFlatBytes: l.MaxFlatBytes, MaxRequestAttributes: l.MaxRequestAttributes}
}
