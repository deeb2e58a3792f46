// Package subscribe is the consumer library for downstream provisioning
// services: it reads one handler topic (handler.<slug>) and calls a function
// per event, in order per key (per account for account events).
//
//	err := subscribe.Run(ctx, subscribe.Config{Brokers: brokers, RegistryURL: url},
//		"Huawei::PCRF", func(ctx context.Context, ev subscribe.Event) error {
//			return pcrf.Apply(ctx, ev.EventType, ev.IAccount)
//		})
//
// Delivery is at least once: records are read read_committed (only what the
// router committed), and an offset is committed only after the function
// returned nil for the record, or after the record was parked. A failing
// event is retried with exponential backoff; after Config.MaxAttempts (or at
// once when the error wraps ErrPermanent, or when the record cannot be
// decoded) it is copied to the handler's parking topic
// (handler.<slug>.parking) with headers saying why, and the partition moves
// on — one bad account never blocks the others. Because delivery is at least
// once, functions must be idempotent; Event.EventID is stable across
// retries, replays and redrives, so it is the key to de-duplicate on.
//
// Unlike the processors, which are transactional (internal/stream),
// subscribe commits consumer offsets: its side effects are outside Kafka.
package subscribe

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"

	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// ErrPermanent marks a failure retrying cannot fix (a malformed request the
// target rejects, say): wrap it (fmt.Errorf("...: %w", subscribe.ErrPermanent))
// and the event is parked without further attempts.
var ErrPermanent = errors.New("permanent failure")

// Event is one routed event as the function receives it: the envelope of
// design §2 (EventID, EventType, Origin, IAccount, Attributes, Payload, …)
// and where it was read from.
type Event struct {
	schemas.Event
	Topic     string
	Partition int32
	Offset    int64
	// Key is the record key: the entity id (i_account for account events).
	Key string
	// Timestamp is when the router wrote the record.
	Timestamp time.Time
	// Attempt counts calls for this record, from 1.
	Attempt int
}

// Func handles one event. Returning nil commits it; an error is retried,
// then parked (see the package doc). It must honour ctx: Run cancels it on
// shutdown, and the event is then neither committed nor parked.
type Func func(ctx context.Context, ev Event) error

// Config says where to consume from and how hard to try. Zero fields take
// the default noted on them.
type Config struct {
	// Brokers are the Kafka seed brokers (required).
	Brokers []string
	// RegistryURL is the Schema Registry URL (required).
	RegistryURL string
	// Group is the consumer group, default "<TopicPrefix>provbus-sub-<slug>". Like every
	// group id, never change it once deployed: a new group starts over from
	// the oldest retained record.
	Group string
	// MaxAttempts is how many calls an event gets before it is parked,
	// default 5.
	MaxAttempts int
	// Backoff is the wait after the first failure, doubled after each
	// further one up to MaxBackoff; defaults 200ms and 10s.
	Backoff, MaxBackoff time.Duration
	// Logger receives the subscriber's logs, default none.
	Logger *zap.Logger
	// KafkaOpts are extra client options (TLS, SASL, client id, …); they
	// are applied after subscribe's own and cannot turn off read_committed
	// or manual commits without breaking the guarantees above.
	KafkaOpts []kgo.Opt
	// RegistryOpts are extra Schema Registry client options (auth, TLS).
	RegistryOpts []sr.ClientOpt
	// TopicPrefix is the installation's topics.prefix ("" = none): the
	// handler and parking topics are read and written under it.
	TopicPrefix string
}

// Topic returns the handler topic of a handler name (Huawei::PCRF →
// handler.huawei-pcrf).
func Topic(handler string) string { return topology.HandlerTopic(handler) }

// ParkingTopic returns the parking topic of a handler name:
// handler.<slug>.parking. topology apply creates it beside the handler
// topic; `provbus dlq list --topic handler.<slug>.parking` lists it and
// `provbus dlq redrive` sends parked events back once fixed.
func ParkingTopic(handler string) string { return topology.ParkingTopic(handler) }

func (c Config) withDefaults(handler string) Config {
	if c.Group == "" {
		c.Group = c.TopicPrefix + "provbus-sub-" + topology.Slug(handler)
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.Backoff <= 0 {
		c.Backoff = 200 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 10 * time.Second
	}
	if c.MaxBackoff < c.Backoff {
		c.MaxBackoff = c.Backoff
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// backoff returns the wait after the attempt-th failure.
func (c Config) backoff(attempt int) time.Duration {
	d := c.Backoff
	for i := 1; i < attempt && d < c.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, c.MaxBackoff)
}
