// Package deliver is `provbus deliver`: it reads handler topics and POSTs
// each event to its handler's HTTP connector (issue 13, docs/deliver.md).
//
// Each handler runs on its own: its own consumer group (so a failing
// target never slows another handler), its own circuit breaker, rate limit
// and in-flight bound. Within a handler, deliver/order keeps per-key order
// and decides what may be committed; a key that waits (retry, block) is
// written with every later event of the key to provbus.deliver.state, so
// its partition's offset moves on, and a restarted or rebalanced instance
// restores it from there. Delivery is at least once: an attempt in flight
// when an instance dies is sent again by the next owner, with the same
// webhook-id.
package deliver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/provbus/provbus/deliver/enrich"
	"github.com/provbus/provbus/deliver/retry"
	"github.com/provbus/provbus/deliver/target"
	"github.com/provbus/provbus/deliver/webhook"
	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/internal/metrics"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// Handler is one handler's delivery settings.
type Handler struct {
	// Name is the catalog handler name (Huawei::PCRF).
	Name     string
	Target   target.Config
	Schedule retry.Schedule
	// MaxInFlight bounds concurrent requests (distinct keys).
	MaxInFlight int
	// Block holds a key after a permanent failure instead of skipping.
	Block bool
	// IncludeState adds the entity's state (deliver/enrich) to each body.
	IncludeState bool
}

// HandlerFromConfig turns a deliver.handlers entry into a Handler.
func HandlerFromConfig(name string, c config.DeliverHandler) (Handler, error) {
	c = c.WithDefaults()
	h := Handler{
		Name: name, MaxInFlight: c.MaxInFlight, Block: c.OnPermanentFailure == config.OnPermanentBlock,
		IncludeState: *c.IncludeState,
		Target:       target.Config{URL: c.URL, BearerToken: c.BearerToken, Timeout: c.Timeout.Std(), Rate: c.Rate},
		Schedule: retry.Schedule{
			Initial: c.Retry.Schedule.Initial.Std(), MaxInterval: c.Retry.Schedule.MaxInterval.Std(),
			Attempts: c.Retry.Schedule.Attempts, MaxAge: c.Retry.MaxAge.Std(),
			MaxRetryAfter: c.Retry.MaxRetryAfter.Std(), Jitter: retry.Default().Jitter,
		},
	}
	for _, d := range c.Retry.Long {
		h.Schedule.Long = append(h.Schedule.Long, d.Std())
	}
	if c.SigningSecret != "" {
		key, err := webhook.ParseSecret(c.SigningSecret)
		if err != nil {
			return h, fmt.Errorf("deliver.handlers.%s.signing_secret: %w", name, err)
		}
		h.Target.SigningKey = key
	}
	return h, nil
}

// Options are what every handler shares.
type Options struct {
	// Kafka are the connection options (seed brokers, TLS, SASL, logger).
	Kafka []kgo.Opt
	// Codec decodes handler records and encodes provbus.deliveries.
	Codec *schemas.Codec
	// Namespace is the installation's topics.prefix.
	Namespace topology.Namespace
	Log       *zap.Logger
	Metrics   *metrics.Pipeline
	// NoRestore skips restoring provbus.deliver.state: for the fault
	// suite's negative twin only (waiting events are lost on restart).
	NoRestore bool
	// StateRestoreTimeout bounds the read of the account state at start
	// (0: enrich.DefaultRestoreTimeout).
	StateRestoreTimeout time.Duration
}

// Run delivers every handler until ctx ends. A handler whose loop fails
// fails Run (the process restarts and restores).
func Run(ctx context.Context, o Options, handlers []Handler) error {
	if len(handlers) == 0 {
		return errors.New("deliver: no handler has a url (deliver.handlers)")
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if err := records.Use(ctx, o.Codec, topology.TopicDeliveries); err != nil {
		return fmt.Errorf("deliver: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	var accounts *enrich.Table
	for _, h := range handlers {
		if h.IncludeState && accounts == nil {
			// Read to its end before any handler fetches, so the first
			// bodies already carry the state the log held at start.
			var err error
			accounts, err = enrich.Start(gctx, enrich.Options{Kafka: o.Kafka, Codec: o.Codec, Namespace: o.Namespace,
				Log: o.Log.Named("state"), RestoreTimeout: o.StateRestoreTimeout})
			if err != nil {
				return fmt.Errorf("deliver: %w", err)
			}
		}
	}
	for _, h := range handlers {
		var st *enrich.Table
		if h.IncludeState {
			st = accounts
		}
		g.Go(func() error {
			if err := runHandler(gctx, o, h, st); err != nil {
				return fmt.Errorf("deliver %s: %w", h.Name, err)
			}
			return nil
		})
	}
	return g.Wait()
}
