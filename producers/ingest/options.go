package ingest

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"

	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/internal/metrics"
	"github.com/provbus/provbus/producers/edge"
	"github.com/provbus/provbus/topology"
)

// Option configures New. Each documents the default it overrides.
type Option func(*settings)

type settings struct {
	kafka           []kgo.Opt
	registry        *sr.Client
	catalog         *topology.Catalog
	auth            config.Auth
	sources         config.Sources
	trustedProxies  []string
	limits          edge.Limits
	certFile        string
	keyFile         string
	maxBody         int64
	produceTimeout  time.Duration
	retryAfter      time.Duration
	shutdownTimeout time.Duration
	log             *zap.Logger
	metrics         *metrics.Pipeline
	now             func() time.Time
	namespace       topology.Namespace
}

func defaults() settings {
	return settings{
		maxBody:         1 << 20,
		limits:          edge.DefaultLimits,
		produceTimeout:  10 * time.Second,
		retryAfter:      5 * time.Second,
		shutdownTimeout: 30 * time.Second,
		log:             zap.NewNop(),
		now:             time.Now,
	}
}

// WithKafka sets the connection options of the producer (required; see
// kclient.Opts). Acks and the delivery timeout are always set by New.
func WithKafka(opts ...kgo.Opt) Option {
	return func(s *settings) { s.kafka = append(s.kafka, opts...) }
}

// WithRegistry sets the Schema Registry client (required).
func WithRegistry(c *sr.Client) Option { return func(s *settings) { s.registry = c } }

// WithCatalog sets the catalog (default topology.Default()).
func WithCatalog(c *topology.Catalog) Option { return func(s *settings) { s.catalog = c } }

// WithAuth sets each source's credentials and instances (default none).
// A source is served only when it has credentials or its policy
// (WithSources) marks it insecure; any other source answers 404.
func WithAuth(a config.Auth) Option { return func(s *settings) { s.auth = a } }

// WithSources sets each source's policy: insecure (served without
// credentials), rate limits, address allow-list, client CA (default the
// zero policy: no source open, no limit, any address, no client
// certificate).
func WithSources(p config.Sources) Option { return func(s *settings) { s.sources = p } }

// WithTrustedProxies sets the CIDRs whose X-Forwarded-For names the
// client (default none: the peer address is the client).
func WithTrustedProxies(cidrs ...string) Option {
	return func(s *settings) { s.trustedProxies = append(s.trustedProxies, cidrs...) }
}

// WithLimits bounds what one request may cost (default edge.DefaultLimits);
// a zero field keeps its default.
func WithLimits(l edge.Limits) Option { return func(s *settings) { s.limits = l.OrDefault() } }

// WithMaxBodyBytes bounds a request body (default 1 MiB); larger bodies
// get 413.
func WithMaxBodyBytes(n int64) Option {
	return func(s *settings) {
		if n > 0 {
			s.maxBody = n
		}
	}
}

// WithProduceTimeout bounds how long a request waits for Kafka before it
// answers 503 (default 10s).
func WithProduceTimeout(d time.Duration) Option {
	return func(s *settings) {
		if d > 0 {
			s.produceTimeout = d
		}
	}
}

// WithRetryAfter sets the Retry-After of 503 answers (default 5s).
func WithRetryAfter(d time.Duration) Option {
	return func(s *settings) {
		if d >= time.Second {
			s.retryAfter = d
		}
	}
}

// WithShutdownTimeout bounds how long Run drains in-flight requests
// (default 30s).
func WithShutdownTimeout(d time.Duration) Option {
	return func(s *settings) {
		if d > 0 {
			s.shutdownTimeout = d
		}
	}
}

// WithLogger sets the logger (default none).
func WithLogger(l *zap.Logger) Option {
	return func(s *settings) {
		if l != nil {
			s.log = l
		}
	}
}

// WithMetrics counts the server's events and requests, and its producer's
// client metrics (kprom, client="ingest"), on p, and serves p's registry on
// GET /metrics (default: a private Pipeline, served the same way). Share
// one Pipeline between the components of a process.
func WithMetrics(p *metrics.Pipeline) Option {
	return func(s *settings) {
		if p != nil {
			s.metrics = p
		}
	}
}

// WithClock sets the receive-time clock (default time.Now); for tests.
func WithClock(now func() time.Time) Option {
	return func(s *settings) {
		if now != nil {
			s.now = now
		}
	}
}

// WithNamespace writes every record in the namespace of topics.prefix
// (default none: the design's topic names).
func WithNamespace(ns topology.Namespace) Option { return func(s *settings) { s.namespace = ns } }
