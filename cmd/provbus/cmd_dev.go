package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/provbus/provbus/console"
	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/internal/embedded"
	"github.com/provbus/provbus/producers/ingest"
)

func init() {
	commands["dev"] = command{
		summary: "run the whole pipeline on an embedded broker and registry",
		example: "provbus dev --data-dir ./.provbus --http 127.0.0.1:8080",
		run:     runDev,
	}
}

// devFlags are `provbus dev`'s flags (design §2).
type devFlags struct {
	dataDir      string
	http         string
	kafka        string
	registryAddr string
	components   string
}

// devComponents are the pieces `provbus dev` can run, in start order.
var devComponents = []string{"broker", "registry", "ingest", "process", "deliver"}

func runDev(ctx context.Context, g *globals, args []string) error {
	var f devFlags
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.StringVar(&f.dataDir, "data-dir", "./.provbus", "where the broker and the registry keep their data")
	fs.StringVar(&f.http, "http", "127.0.0.1:8080", "HTTP address: webhooks, the console (/ui/), /healthz, /readyz, /metrics")
	fs.StringVar(&f.kafka, "kafka", embedded.DefaultKafkaAddr, "the embedded broker's address")
	fs.StringVar(&f.registryAddr, "registry-addr", embedded.DefaultRegistryAddr, "the embedded Schema Registry's address")
	fs.StringVar(&f.components, "components", strings.Join(devComponents, ","), "comma list of "+strings.Join(devComponents, ", "))
	if err := parseFlagsArgs(fs, "", args); err != nil {
		return err
	}
	run, err := parseComponents(f.components)
	if err != nil {
		return err
	}
	g.defaultLogFormat = "console" // readable output for a first look
	e, err := g.load()
	if err != nil {
		return err
	}
	defer e.log.Sync() //nolint:errcheck // best effort at exit
	return dev(ctx, e, f, run)
}

func parseComponents(s string) (map[string]bool, error) {
	run := map[string]bool{}
	for _, c := range splitList(s) {
		known := false
		for _, k := range devComponents {
			known = known || c == k
		}
		if !known {
			return nil, fmt.Errorf("%w: --components: unknown component %q (want %s)", errUsage, c, strings.Join(devComponents, ", "))
		}
		run[c] = true
	}
	if len(run) == 0 {
		return nil, fmt.Errorf("%w: --components is empty", errUsage)
	}
	return run, nil
}

// dev runs the selected components until ctx ends, then shuts down in
// reverse order: HTTP and processors first, the embedded cluster last and
// always cleanly (kfake must Close to persist open transactions' fate).
func dev(ctx context.Context, e *env, f devFlags, run map[string]bool) error {
	log := e.log
	var cluster *embedded.Cluster
	if run["broker"] || run["registry"] {
		var err error
		cluster, err = embedded.Start(ctx, embedded.Config{
			DataDir: f.dataDir, KafkaAddr: f.kafka, RegistryAddr: f.registryAddr,
			Partitions: e.cfg.Topics.Partitions, Logger: log.Named("embedded"),
			Broker: run["broker"], Registry: run["registry"],
		})
		if err != nil {
			return err
		}
		defer func() {
			if err := cluster.Close(); err != nil {
				log.Error("closing the embedded cluster", zap.Error(err))
			}
			log.Info("embedded cluster closed; data kept", zap.String("data_dir", f.dataDir))
		}()
		if run["broker"] {
			e.cfg.Kafka.Brokers = cluster.Brokers()
		}
		if run["registry"] {
			e.cfg.Registry.URL = cluster.RegistryURL()
		}
		log.Info("embedded cluster up", zap.Strings("kafka", e.cfg.Kafka.Brokers), zap.String("registry", e.cfg.Registry.URL), zap.String("data_dir", f.dataDir))
	}

	var ready atomic.Bool
	if run["broker"] && run["registry"] {
		plan, err := applyTopology(ctx, e, true)
		if err != nil {
			return fmt.Errorf("topology apply: %w", err)
		}
		log.Info("topology applied", zap.Int("changes", len(plan.Changes)))
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeStatus(w, true, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { writeStatus(w, ready.Load(), "ready") })
	mux.Handle("GET /metrics", e.metrics.Handler())
	ui, err := mountConsole(e, mux, f.http)
	if err != nil {
		return err
	}
	if ui != nil {
		defer ui.Close()
	}

	grp, gctx := errgroup.WithContext(ctx)
	if run["ingest"] {
		srv, err := mountIngest(ctx, e, mux, f.http)
		if err != nil {
			return err
		}
		defer srv.Close() // after grp.Wait: the HTTP server has drained
	}
	if run["process"] {
		if run["broker"] && e.cfg.Process.InstanceID == "" {
			// One dev owns its embedded broker: its processors are the
			// static member "dev", so a restart (or a crash) of dev takes
			// its partitions back at once instead of waiting for the dead
			// members' session timeout.
			e.cfg.Process.InstanceID = "dev"
		}
		deps, err := e.processDeps()
		if err != nil {
			return err
		}
		grp.Go(func() error { return runProcessors(gctx, deps) })
	}
	if run["deliver"] {
		// Every handler with a url under deliver.handlers; none: nothing.
		if len(e.cfg.Deliver.Handlers) > 0 {
			grp.Go(func() error { return runDelivery(gctx, e, deliverFlags{}) })
		} else {
			log.Info("deliver: no handler has a url (deliver.handlers); handler topics are not pushed anywhere")
		}
	}
	srv := newHTTPServer(mux)
	ln, err := net.Listen("tcp", f.http)
	if err != nil {
		return fmt.Errorf("--http %s: %w", f.http, err)
	}
	serveInGroup(grp, gctx, srv, ln, 10*time.Second) // drains in-flight webhooks before the broker goes
	ready.Store(true)
	log.Info("provbus dev is running",
		zap.String("http", "http://"+ln.Addr().String()), zap.String("console", consoleURL(ui, ln.Addr().String())), zap.Strings("components", componentList(run)),
		zap.String("try", "curl -s -XPOST http://"+ln.Addr().String()+"/v1/sources/portabilling/events -d '{\"event_type\":\"Customer/Status/Suspend\",\"variables\":{\"i_event\":\"1\",\"i_customer\":42}}'"))
	err = grp.Wait()
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		log.Info("shutting down")
		return nil
	}
	return err
}

// consoleURL is where dev serves the console, or why it does not.
func consoleURL(ui *console.Server, addr string) string {
	if ui == nil {
		return "off: see the warning above"
	}
	return "http://" + addr + "/ui/"
}

func componentList(run map[string]bool) []string {
	var out []string
	for _, c := range devComponents {
		if run[c] {
			out = append(out, c)
		}
	}
	return out
}

func writeStatus(w http.ResponseWriter, ok bool, what string) {
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "{\"status\":\"not %s\"}\n", what)
		return
	}
	fmt.Fprintf(w, "{\"status\":%q}\n", what)
}

// mountIngest serves the source webhooks on dev's HTTP mux at addr. The
// caller closes the returned server after the HTTP server has drained, so
// no in-flight webhook loses its producer.
func mountIngest(ctx context.Context, e *env, mux *http.ServeMux, addr string) (*ingest.Server, error) {
	srv, err := newDevIngestServer(ctx, e)
	if err != nil {
		return nil, err
	}
	if err := srv.CheckListen(addr); err != nil {
		srv.Close()
		return nil, fmt.Errorf("%w: --http: %v", errUsage, err)
	}
	mux.Handle("/v1/", srv.Handler())
	return srv, nil
}

// newDevIngestServer is the ingest as provbus dev (and provbus bench) run
// it: every source without credentials open — dev listens on loopback,
// and CheckListen refuses anything else — and no rate limit, so what a
// developer or a benchmark sends is measured, not throttled.
func newDevIngestServer(ctx context.Context, e *env) (*ingest.Server, error) {
	c := *e
	openUnauthenticated(&c.cfg.Ingest)
	for _, name := range config.SourceNames {
		p := c.cfg.Ingest.Sources.Policy(name)
		p.RateLimit, p.CredentialRateLimit = config.RateLimit{}, config.RateLimit{}
		c.cfg.Ingest.Sources.SetPolicy(name, p)
	}
	return newIngestServer(ctx, &c)
}
