package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/provbus/provbus/console"
	"github.com/provbus/provbus/internal/stream"
	"github.com/provbus/provbus/schemas"
)

func init() {
	commands["console"] = command{
		summary: "serve the web console (/ui/) against the configured cluster",
		example: "provbus console --http 127.0.0.1:8090 --brokers kafka:9092 --registry http://schema-registry:8081",
		run:     runConsole,
	}
}

const consoleUsage = `usage: provbus console [--http ADDR] [flags]

Serves the web console at http://ADDR/ui/ against the cluster and registry
of the configuration (the same as every other command): the flow with rates
and lag, handlers, entity timelines, records, the catalog, the DLQ and the
quarantine. Without console credentials it is read-only and refuses a
non-loopback ADDR; see docs/console.md.

flags:
`

// defaultConsoleHTTP is provbus console's address: loopback, and clear of
// provbus dev's 8080 (which serves the console itself) and the registry's
// 8081, so both can run on one machine.
const defaultConsoleHTTP = "127.0.0.1:8090"

func runConsole(ctx context.Context, g *globals, args []string) error {
	fs := flag.NewFlagSet("console", flag.ContinueOnError)
	addr := fs.String("http", defaultConsoleHTTP, "address to serve /ui/ on; beyond loopback it needs console credentials")
	if err := parseFlags(fs, consoleUsage, args); err != nil {
		return err
	}
	e, err := g.load()
	if err != nil {
		return err
	}
	defer func() { _ = e.log.Sync() }()
	if err := console.CheckListen(*addr, consoleCredentials(e)); err != nil {
		return fmt.Errorf("%w: --http: %v", errUsage, err)
	}
	cl, err := e.kafkaClient()
	if err != nil {
		return err
	}
	err = ping(ctx, cl, e.cfg.Kafka.Brokers)
	cl.Close()
	if err != nil {
		return err
	}
	ui, err := newConsole(e)
	if err != nil {
		return err
	}
	defer ui.Close()
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, ui.Handler())
	mux.Handle("GET /{$}", http.RedirectHandler(console.Prefix, http.StatusFound))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeStatus(w, true, "ok") })
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("--http %s: %w", *addr, err)
	}
	srv := newHTTPServer(mux)
	e.log.Info("provbus console is running", zap.String("url", "http://"+ln.Addr().String()+console.Prefix), zap.Bool("actions", consoleCredentials(e).Configured()))
	grp, gctx := errgroup.WithContext(ctx)
	serveInGroup(grp, gctx, srv, ln, 5*time.Second)
	if err := grp.Wait(); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

func consoleCredentials(e *env) console.Credentials {
	c := e.cfg.Console
	return console.Credentials{Username: c.Username, Password: c.Password, Token: c.Token, LoopbackReads: c.LoopbackReads}
}

// newConsole builds the console for e's cluster: the configured client
// settings, a codec in the namespace, the processors provbus process runs
// (for the flow), the configured credentials, and, when deliver.handlers
// names any, the delivery state and actions of `provbus deliver`'s own
// code (provbus console and provbus dev alike).
func newConsole(e *env) (*console.Server, error) {
	reg, err := e.registryClient()
	if err != nil {
		return nil, err
	}
	codec := schemas.NewCodec(reg, schemas.WithTopicPrefix(e.cfg.Topics.Prefix))
	deps := processDeps{cfg: e.cfg, log: zap.NewNop(), catalog: e.catalog}
	var specs []stream.Spec
	for _, mk := range processors {
		specs = append(specs, mk(deps).Spec())
	}
	dial := func(opts ...kgo.Opt) (*kgo.Client, error) { return e.kafkaClient(opts...) }
	opts := []console.Option{
		console.WithNamespace(e.namespace()),
		console.WithRegistry(reg),
		console.WithProcessors(specs...),
		console.WithCredentials(consoleCredentials(e)),
		console.WithLogger(e.log.Named("console")),
	}
	del, err := newConsoleDelivery(e)
	if err != nil {
		return nil, err
	}
	if del != nil {
		opts = append(opts, console.WithDelivery(del))
	}
	ui, err := console.New(e.catalog, dial, codec, opts...)
	if err != nil {
		return nil, err
	}
	return ui, nil
}

// mountConsole serves the console at /ui/ on provbus dev's mux, unless
// addr is beyond loopback and no credentials are configured: then dev runs
// without it and says why, since dev's HTTP address also serves webhooks.
func mountConsole(e *env, mux *http.ServeMux, addr string) (*console.Server, error) {
	if err := console.CheckListen(addr, consoleCredentials(e)); err != nil {
		e.log.Warn("console not served", zap.Error(err))
		return nil, nil
	}
	ui, err := newConsole(e)
	if err != nil {
		return nil, err
	}
	mux.Handle(console.Prefix, ui.Handler())
	return ui, nil
}
