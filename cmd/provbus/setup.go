package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/internal/kclient"
	"github.com/provbus/provbus/internal/metrics"
	"github.com/provbus/provbus/topology"
)

// env is what most subcommands need: the validated configuration, a logger
// and the catalog. Every subcommand builds it the same way through load.
type env struct {
	cfg     config.Config
	log     *zap.Logger
	catalog *topology.Catalog
	// metrics is the process's one Pipeline: every component of the
	// process counts on it, and /metrics serves it.
	metrics *metrics.Pipeline
}

// load reads the configuration (file, environment, then the global flags),
// builds the logger and loads the catalog with its override file.
func (g *globals) load() (*env, error) {
	cfg, err := config.Load(g.configPath)
	if err != nil {
		return nil, err
	}
	if g.brokers != "" {
		cfg.Kafka.Brokers = splitList(g.brokers)
	}
	if g.registry != "" {
		cfg.Registry.URL = g.registry
	}
	if g.defaultLogFormat != "" && g.configPath == "" && os.Getenv("PROVBUS_LOG_FORMAT") == "" {
		cfg.Log.Format = g.defaultLogFormat
	}
	if g.logLevel != "" {
		cfg.Log.Level = g.logLevel
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	log, err := newLogger(cfg.Log)
	if err != nil {
		return nil, err
	}
	cat, err := topology.Load(cfg.Catalog)
	if err != nil {
		return nil, err
	}
	return &env{cfg: cfg, log: log, catalog: cat, metrics: metrics.New(nil)}, nil
}

// newLogger builds the process logger: JSON for services, readable console
// output when log.format is console (provbus dev's default).
func newLogger(c config.Log) (*zap.Logger, error) {
	var level zapcore.Level
	if err := level.Set(c.Level); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	zc := zap.NewProductionConfig()
	if c.Format == "console" {
		zc = zap.NewDevelopmentConfig()
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
		zc.DisableStacktrace = true
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	return zc.Build()
}

// kafkaClient returns a franz-go client for e's cluster with extra options.
func (e *env) kafkaClient(extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := kclient.Opts(e.cfg.Kafka, e.log)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return cl, nil
}

// registryClient returns a Schema Registry client for e's registry.
func (e *env) registryClient() (*sr.Client, error) { return kclient.Registry(e.cfg.Registry) }

// layout is the topic layout for e's configuration.
func (e *env) layout() []topology.TopicSpec {
	t := e.cfg.Topics
	return e.catalog.Layout(topology.LayoutOptions{
		Namespace:         e.namespace(),
		Partitions:        int32(t.Partitions),
		ReplicationFactor: int16(t.ReplicationFactor),
		MinInsyncReplicas: t.MinInsyncReplicas,
		HandlerRetention:  t.HandlerRetention.Std(),
	})
}

// namespace is the configured topic prefix: topic names inside provbus are
// logical, and become physical through it where a client sees them.
func (e *env) namespace() topology.Namespace { return topology.Namespace(e.cfg.Topics.Prefix) }

// ping fails fast, with the address, when no broker answers.
func ping(ctx context.Context, cl *kgo.Client, brokers []string) error {
	ctx, cancel := context.WithTimeout(ctx, 10e9)
	defer cancel()
	if _, err := kadm.NewClient(cl).BrokerMetadata(ctx); err != nil {
		return fmt.Errorf("no Kafka broker answers at %s: %w", strings.Join(brokers, ","), err)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseFlags parses args with fs, mapping flag errors to errUsage; a
// positional argument is a usage error too.
func parseFlags(fs *flag.FlagSet, usage string, args []string) error {
	if err := parseFlagsArgs(fs, usage, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

// parseFlagsArgs is parseFlags for commands that take positional
// arguments (fs.Args()), which the caller checks. Every command parses
// through it, so every command also accepts the global flags after its
// name, prints --help with the global flags and its example, and suggests
// the nearest flag for a mistyped one (flags.go).
func parseFlagsArgs(fs *flag.FlagSet, usage string, args []string) error {
	g := cli
	if g == nil {
		g = &globals{}
	}
	g.registerMissing(fs)
	help := false
	fs.SetOutput(io.Discard) // errors are returned, help printed below
	fs.Usage = func() { help = true }
	if describe != nil {
		describe(fs)
		return flag.ErrHelp
	}
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return fmt.Errorf("%w: %v", errUsage, explainFlagError(fs, err))
	}
	// Typed after the command, the global flags are checked here: the
	// check before the command saw only what preceded it.
	if err := g.resolve(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err != nil || help {
		printHelp(stderr, fs, usage)
		return flag.ErrHelp
	}
	return nil
}
