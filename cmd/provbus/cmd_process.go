package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/internal/kclient"
	"github.com/provbus/provbus/internal/metrics"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/internal/stream"
	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/processors/dispatch"
	"github.com/provbus/provbus/processors/route"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// Registered here rather than in main.go so the process command is one file.
func init() {
	commands["process"] = command{
		summary: "run the stream processors (directory, dispatch, …) as consumer group members",
		example: "provbus process --config provbus.yaml --brokers kafka:9092",
		run:     runProcess,
	}
}

const processUsage = `usage: provbus process [flags]

Runs this process's share of the stream processors: every instance joins
each processor's consumer group, so starting more instances spreads the
partitions (and their state) across them. Stops cleanly on SIGINT/SIGTERM.

flags:
`

// processDeps is what the processors need; provbus dev builds one for its
// in-process processors, provbus process from flags and configuration.
type processDeps struct {
	cfg      config.Config
	log      *zap.Logger
	catalog  *topology.Catalog
	instance string     // process.instance_id, default the host name
	kafka    []kgo.Opt  // connection options (kclient.Opts)
	registry *sr.Client // Schema Registry client
	metrics  *metrics.Pipeline

	// Options for tests and operators; zero values are the defaults.
	runner []stream.Option // extra runner options (mode, timeouts)
	// only selects processors by name (group id without "provbus-");
	// empty runs them all.
	only []string
}

// processor builds one processor of this process from deps.
type processor func(deps processDeps) stream.Processor

// processors is every processor provbus process runs. Adding one is one
// line here.
var processors = []processor{
	func(d processDeps) stream.Processor { return directory.New() },
	func(d processDeps) stream.Processor { return dispatch.New(d.catalog, d.log.Named("dispatch")) },
	func(d processDeps) stream.Processor {
		return route.NewStream(d.catalog, d.cfg.Process.DedupWindow.Std()).
			WithDedupBound(d.cfg.Process.DedupMaxIDs, d.log.Named(route.GroupID))
	},
}

// outputTopics are the Avro topics the processors encode to; the codec
// registers (or finds) their schemas once at start.
var outputTopics = []string{dispatch.TopicInherited}

// runProcessors runs every processor under one errgroup until ctx is
// cancelled or one fails (then the others are stopped too).
func runProcessors(ctx context.Context, deps processDeps) error {
	codec := schemas.NewCodec(deps.registry, schemas.WithTopicPrefix(deps.cfg.Topics.Prefix))
	if err := records.Use(ctx, codec, append(outputTopics, route.Outputs(deps.catalog)...)...); err != nil {
		return fmt.Errorf("process: prepare schemas: %w", err)
	}
	g, ctx := errgroup.WithContext(ctx)
	started := 0
	for _, mk := range processors {
		p := mk(deps)
		if !selected(deps.only, p.Spec().Group) {
			continue
		}
		started++
		group := p.Spec().Group
		opts := append([]stream.Option{
			stream.WithKafka(deps.kafka...),
			stream.WithCodec(codec),
			stream.WithNamespace(topology.Namespace(deps.cfg.Topics.Prefix)),
			stream.WithMetrics(deps.metrics),
			stream.WithRestoreTimeout(deps.cfg.Process.RestoreTimeout.Std()),
			stream.WithLogger(deps.log.Named(group).With(zap.String("instance", deps.instance))),
		}, membership(deps, group)...)
		opts = append(opts, deps.runner...)
		r, err := stream.New(p, opts...)
		if err != nil {
			return err
		}
		g.Go(func() error {
			if err := r.Run(ctx); err != nil {
				return fmt.Errorf("%s: %w", r.Group(), err)
			}
			return nil
		})
	}
	if deps.cfg.Process.WatermarkSkew != 0 && selected(deps.only, directory.Group) {
		deps.log.Warn("process.watermark_skew is ignored: the directory's watermarks are offsets, with no clock in the rule (docs/processing.md, Ordering)")
	}
	if deps.cfg.Process.InstanceID == "" && started > 0 {
		deps.log.Warn("process.instance_id is not set: dynamic group membership, so after a crash this instance's " +
			"partitions wait for the session timeout (45 s) and its open transactions for the transaction timeout; " +
			"set a unique, stable process.instance_id per instance to recover in seconds")
	}
	if started == 0 {
		return fmt.Errorf("%w: --processors %s selects no processor", errUsage, strings.Join(deps.only, ","))
	}
	return g.Wait()
}

// membership makes the runner a static member with a stable transactional
// id when process.instance_id is configured (recovery in seconds, see
// stream.WithInstanceID). Without it the member is dynamic: the host name
// is no safe static id, since two instances on one host would share it and
// take each other's place. The instance in a dynamic transactional id lets
// an operator tell instances apart in the broker's transaction listings.
func membership(deps processDeps, group string) []stream.Option {
	if id := deps.cfg.Process.InstanceID; id != "" {
		return []stream.Option{stream.WithInstanceID(id)}
	}
	return []stream.Option{stream.WithTransactionalIDPrefix(group + "-" + deps.instance + "-")}
}

// selected reports whether the processor with group id group is in only.
func selected(only []string, group string) bool {
	if len(only) == 0 {
		return true
	}
	return slices.Contains(only, strings.TrimPrefix(group, "provbus-"))
}

func runProcess(ctx context.Context, g *globals, args []string) error {
	fs := flag.NewFlagSet("process", flag.ContinueOnError)
	atLeastOnce := fs.Bool("at-least-once", false, "TESTS ONLY: no transactions (produce, then commit offsets); duplicates on crash")
	noDedup := fs.Bool("no-dedup", false, "TESTS ONLY: route without de-duplication, so the fault suite's negative twins can show what it absorbs")
	txnTimeout := fs.Duration("transaction-timeout", 0, "broker-side timeout of a processor transaction (default 15s)")
	only := fs.String("processors", "", "comma list of processors to run: directory, dispatch, route (default all)")
	sessionTimeout := fs.Duration("session-timeout", 0, "consumer group session timeout (default 45s); a killed instance's partitions move after it")
	metricsAddr := fs.String("metrics", defaultProcessMetrics, `address of /metrics and /healthz ("0.0.0.0:9464" in a container; "off" serves nothing)`)
	if err := parseFlags(fs, processUsage, args); err != nil {
		return err
	}
	e, err := g.load()
	if err != nil {
		return err
	}
	defer func() { _ = e.log.Sync() }()
	deps, err := e.processDeps()
	if err != nil {
		return err
	}
	deps.only = splitList(*only)
	if *atLeastOnce {
		fmt.Fprintln(os.Stderr, "provbus process: --at-least-once: transactions OFF, outputs may be duplicated")
		deps.runner = append(deps.runner, stream.WithMode(stream.AtLeastOnce))
	}
	if *noDedup {
		fmt.Fprintln(os.Stderr, "provbus process: --no-dedup: de-duplication OFF, handler topics may get duplicates")
		deps.cfg.Process.DedupWindow = 0 // route.NewStream: ≤ 0 disables it
	}
	if *txnTimeout > 0 {
		deps.runner = append(deps.runner, stream.WithTransactionTimeout(*txnTimeout))
	}
	if *sessionTimeout > 0 {
		deps.runner = append(deps.runner, stream.WithGroupTimeouts(*sessionTimeout, 2**sessionTimeout+10*time.Second))
	}
	return serveMetrics(ctx, e, *metricsAddr, func(ctx context.Context) error { return runProcessors(ctx, deps) })
}

// processDeps builds the processors' dependencies from e; provbus process
// and provbus dev share it.
func (e *env) processDeps() (processDeps, error) {
	kopts, err := kclient.Opts(e.cfg.Kafka, e.log)
	if err != nil {
		return processDeps{}, err
	}
	reg, err := e.registryClient()
	if err != nil {
		return processDeps{}, err
	}
	instance := e.cfg.Process.InstanceID
	if instance == "" {
		instance, _ = os.Hostname()
	}
	return processDeps{cfg: e.cfg, log: e.log, catalog: e.catalog, kafka: kopts, registry: reg, instance: instance, metrics: e.metrics}, nil
}
