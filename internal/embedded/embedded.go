// Package embedded runs the Kafka broker (franz-go's kfake) and the Schema
// Registry (internal/registry) inside the current process, persisted in one
// data directory. `provbus dev` runs on it, and so does every test: clients
// reach both through real TCP listeners, exactly as they reach a real
// cluster.
//
// # Close it cleanly
//
// kfake persists as it goes, but some state is only complete after Close:
// partition snapshots, idempotent sequence windows, group sessions, the
// fsync of segment files (kfake does not fsync each batch), and offset
// commits still queued in the broker. Worse, on a crash kfake reloads a
// transaction that was open as aborted without writing an ABORT marker;
// read_committed clients then skip every later transaction of that
// producer id, so a processor restarting with its transactional id would
// have its output silently dropped by consumers. Start repairs that after
// an unclean shutdown (DataDir/kafka.running left behind) by writing the
// missing markers before any client connects, at the price of reading
// every partition once; see repair.go.
//
// So a process that runs a Cluster must call Close on SIGINT/SIGTERM
// (cancel, stop its clients, then Close). Close is safe to call more than
// once, so a deferred Close beside the signal path is fine.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"

	"github.com/provbus/provbus/internal/registry"
)

// Defaults of Config, matching `provbus dev`'s documented defaults.
const (
	DefaultKafkaAddr    = "127.0.0.1:9092"
	DefaultRegistryAddr = "127.0.0.1:8081"
	DefaultPartitions   = 12
)

// Config says what to run and where. Fields left zero take the defaults
// noted on them.
type Config struct {
	// DataDir holds everything: kfake writes DataDir/kafka, the registry
	// DataDir/registry. "" keeps both in memory (tests only: nothing
	// survives Close). `provbus dev` uses ./.provbus.
	DataDir string
	// KafkaAddr is the broker's host:port, default DefaultKafkaAddr; port
	// 0 picks a free port (read it back with Brokers). A wildcard host
	// (0.0.0.0) is advertised as 127.0.0.1.
	KafkaAddr string
	// RegistryAddr is the registry's host:port, default
	// DefaultRegistryAddr; port 0 picks a free port (see RegistryURL).
	RegistryAddr string
	// Partitions is what a CreateTopics request asking for the broker
	// default (-1) gets, default DefaultPartitions.
	Partitions int
	// Logger receives both components' logs, default a no-op logger.
	Logger *zap.Logger
	// Broker and Registry select the components to run, so that
	// `provbus dev --components` can run each in its own process. At least
	// one must be true.
	Broker, Registry bool
}

// Cluster is a running embedded broker and/or registry.
type Cluster struct {
	log      *zap.Logger
	dataDir  string // set when the broker persists, to clear the running marker
	kafka    *kfake.Cluster
	brokers  []string
	registry *registry.Registry
	regURL   string

	closeOnce sync.Once
	closeErr  error
}

// Start starts the selected components and returns once both accept
// connections. ctx bounds start-up only; the cluster runs until Close.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if !cfg.Broker && !cfg.Registry {
		return nil, errors.New("embedded: neither Broker nor Registry selected")
	}
	if cfg.KafkaAddr == "" {
		cfg.KafkaAddr = DefaultKafkaAddr
	}
	if cfg.RegistryAddr == "" {
		cfg.RegistryAddr = DefaultRegistryAddr
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = DefaultPartitions
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	c := &Cluster{log: cfg.Logger}

	if cfg.Broker {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("embedded: %w", err)
		}
		if err := c.startKafka(ctx, cfg); err != nil {
			return nil, err
		}
	}
	if cfg.Registry {
		if err := ctx.Err(); err != nil {
			c.Close()
			return nil, fmt.Errorf("embedded: %w", err)
		}
		if err := c.startRegistry(cfg); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func (c *Cluster) startKafka(ctx context.Context, cfg Config) error {
	log := cfg.Logger.Named("kfake")
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ClusterID("provbus-dev"),
		kfake.ListenFn(listenAdvertised(cfg.KafkaAddr)),
		kfake.DefaultNumPartitions(cfg.Partitions),
		kfake.WithLogger(kfakeLogger{log}),
		// Lets tests run consumer groups with short session timeouts
		// (kgo.SessionTimeout) so rebalances after a kill are quick.
		kfake.GroupMinSessionTimeout(time.Second),
		kfake.BrokerConfigs(map[string]string{
			// Kafka's defaults, spelled out because processors'
			// transactions depend on them: kgo's transaction timeout
			// must stay below the max, and a transactional id must
			// outlive a processor that is down for a weekend.
			"transaction.max.timeout.ms":     "900000",
			"transactional.id.expiration.ms": "604800000",
		}),
		// Deliberately no AllowAutoTopicCreation: topics come from the
		// topology apply step, with their partitions and configs, and a
		// typo in a topic name must fail instead of creating a topic.
	}
	if cfg.DataDir != "" {
		dir := filepath.Join(cfg.DataDir, "kafka")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("embedded: create kafka data dir: %w", err)
		}
		opts = append(opts, kfake.DataDir(dir))
	}
	crashed := cfg.DataDir != "" && crashedBefore(cfg.DataDir)
	k, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("embedded: start kafka on %s: %w", cfg.KafkaAddr, err)
	}
	c.kafka = k
	c.brokers = k.ListenAddrs()
	answerLikeKafka(k)
	if crashed {
		log.Warn("the previous run did not close cleanly; closing the transactions it left open")
		if err := abortCrashedTxns(ctx, c.brokers, log); err != nil {
			k.Close()
			c.kafka = nil
			return fmt.Errorf("embedded: repair after unclean shutdown: %w", err)
		}
	}
	if cfg.DataDir != "" {
		if err := markRunning(cfg.DataDir); err != nil {
			k.Close()
			c.kafka = nil
			return err
		}
		c.dataDir = cfg.DataDir
	}
	c.log.Info("embedded kafka listening", zap.Strings("brokers", c.brokers), zap.String("data_dir", cfg.DataDir))
	return nil
}

func (c *Cluster) startRegistry(cfg Config) error {
	dir := ""
	if cfg.DataDir != "" {
		dir = filepath.Join(cfg.DataDir, "registry")
	}
	reg, err := registry.New(dir, registry.WithLogger(cfg.Logger.Named("registry")))
	if err != nil {
		return fmt.Errorf("embedded: %w", err)
	}
	if _, err := reg.Listen(cfg.RegistryAddr); err != nil {
		reg.Close()
		return fmt.Errorf("embedded: %w", err)
	}
	c.registry = reg
	c.regURL = reg.URL()
	return nil
}

// Brokers returns the host:port clients bootstrap from (the advertised
// address of the real listener); nil when the broker is not running.
func (c *Cluster) Brokers() []string { return append([]string(nil), c.brokers...) }

// RegistryURL returns "http://host:port" of the registry; "" when the
// registry is not running.
func (c *Cluster) RegistryURL() string { return c.regURL }

// Kafka returns the kfake cluster for fault injection (Cluster.Control,
// ControlKey, SleepControl, ...); nil when the broker is not running.
func (c *Cluster) Kafka() *kfake.Cluster { return c.kafka }

// Close stops the registry, then the broker. kfake's Close writes its
// complete state (see the package doc for why that matters). Calling Close
// again returns the first call's result.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		var errs []error
		if c.registry != nil {
			if err := c.registry.Close(); err != nil {
				errs = append(errs, fmt.Errorf("embedded: %w", err))
			}
		}
		if c.kafka != nil {
			c.kafka.Close()
			// Only now is kfake's state complete on disk.
			if c.dataDir != "" {
				if err := clearRunning(c.dataDir); err != nil {
					errs = append(errs, err)
				}
			}
		}
		c.closeErr = errors.Join(errs...)
		c.log.Info("embedded cluster closed")
	})
	return c.closeErr
}

// listenAdvertised returns a kfake ListenFn that binds addr instead of
// kfake's fixed 127.0.0.1:<port>. kfake advertises whatever the listener's
// Addr says, so a wildcard bind is reported as 127.0.0.1: clients are told
// an address they can dial.
func listenAdvertised(addr string) func(network, _ string) (net.Listener, error) {
	return func(network, _ string) (net.Listener, error) {
		ln, err := net.Listen(network, addr)
		if err != nil {
			return nil, err
		}
		host, port, err := net.SplitHostPort(ln.Addr().String())
		if err != nil {
			return ln, nil
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			adv, err := net.ResolveTCPAddr("tcp", net.JoinHostPort("127.0.0.1", port))
			if err != nil {
				ln.Close()
				return nil, err
			}
			return advertisedListener{Listener: ln, addr: adv}, nil
		}
		return ln, nil
	}
}

// advertisedListener reports addr instead of the bound wildcard address.
type advertisedListener struct {
	net.Listener
	addr net.Addr
}

func (l advertisedListener) Addr() net.Addr { return l.addr }
