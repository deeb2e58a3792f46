// Package config is provbus's one validated configuration: defaults, then
// the YAML file (provbus.yaml), then PROVBUS_* environment variables, then
// flags. Every error names the key it is about, so a bad deployment fails at
// start and says where.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration of a provbus process. The yaml path of
// each field is also its environment variable: kafka.brokers →
// PROVBUS_KAFKA_BROKERS.
type Config struct {
	Kafka    Kafka    `yaml:"kafka"`
	Registry Registry `yaml:"registry"`
	Topics   Topics   `yaml:"topics"`
	Ingest   Ingest   `yaml:"ingest"`
	Process  Process  `yaml:"process"`
	Deliver  Deliver  `yaml:"deliver"`
	// Catalog is the path of a catalog override file ("" = the built-in
	// catalog only).
	Catalog string  `yaml:"catalog"`
	Log     Log     `yaml:"log"`
	Console Console `yaml:"console"`
}

// Kafka says how to reach the cluster.
type Kafka struct {
	Brokers  []string `yaml:"brokers"`
	ClientID string   `yaml:"client_id"`
	// Compression is the codec of every record batch provbus produces:
	// one of Compressions. Consumers must support it (docs/clients.md).
	Compression string `yaml:"compression"`
	TLS         TLS    `yaml:"tls"`
	SASL        SASL   `yaml:"sasl"`
}

// DefaultCompression is kafka.compression when unset: snappy is cheap on
// CPU, built into librdkafka, Java, Go and Python clients, and what the
// pipeline's benchmarks were taken with. KafkaJS needs the kafkajs-snappy
// codec for it (or set gzip, which KafkaJS has built in).
const DefaultCompression = "snappy"

// Compressions are the values kafka.compression takes.
var Compressions = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// TLS configures TLS to the brokers (or the registry).
type TLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SASL configures SASL authentication: mechanism PLAIN, SCRAM-SHA-256 or
// SCRAM-SHA-512 ("" = none).
type SASL struct {
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	Password  string `yaml:"password"`
}

// Registry says how to reach the Schema Registry.
type Registry struct {
	URL      string `yaml:"url"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	TLS      TLS    `yaml:"tls"`
}

// Topics sets how topology apply creates topics.
type Topics struct {
	// Prefix is put before every topic and subject name provbus uses
	// ("staging." → "staging.portabilling.account"), so environments can
	// share a cluster. Empty: the names of the design.
	Prefix            string `yaml:"prefix"`
	Partitions        int    `yaml:"partitions"`
	ReplicationFactor int    `yaml:"replication_factor"`
	MinInsyncReplicas int    `yaml:"min_insync_replicas"`
	// HandlerRetention is how long handler topics keep records; domain
	// topics keep history forever.
	HandlerRetention Duration `yaml:"handler_retention"`
}

// Ingest configures the webhook server.
type Ingest struct {
	Listen string `yaml:"listen"`
	// MetricsListen is where provbus ingest serves /metrics, apart from
	// the webhooks ("off" = nowhere).
	MetricsListen string `yaml:"metrics_listen"`
	MaxBodyBytes  int64  `yaml:"max_body_bytes"`
	// InsecureNoAuth opens every source without credentials, as if each
	// had sources.<name>.insecure (development only; loopback only).
	InsecureNoAuth bool `yaml:"insecure_no_auth"`
	Auth           Auth `yaml:"auth"`
	// Limits bound what one request may cost.
	Limits Limits `yaml:"limits"`
	// Sources are the per-source policies: open or not, rate limits,
	// address allow-list, client certificates.
	Sources Sources `yaml:"sources"`
	// TrustedProxies are the CIDRs whose X-Forwarded-For is believed
	// (default none: the peer address is the client).
	TrustedProxies []string `yaml:"trusted_proxies"`
	// TLS serves the webhooks over HTTPS when cert_file is set.
	TLS ListenTLS `yaml:"tls"`
}

// Limits bound the cost of one request; each refusal is a 400 naming
// the element and the field.
type Limits struct {
	// MaxDepth is the deepest JSON nesting accepted (default 32).
	MaxDepth int `yaml:"max_depth"`
	// MaxEvents is the most events (array elements) per request
	// (default 1000).
	MaxEvents int `yaml:"max_events"`
	// MaxAttributes is the most attributes one event may carry
	// (default 512).
	MaxAttributes int `yaml:"max_attributes"`
	// MaxAttributeBytes is the longest attribute value (default 65536).
	MaxAttributeBytes int `yaml:"max_attribute_bytes"`
	// MaxFlatBytes bounds the attribute names and values of a whole
	// request together (default 2097152).
	MaxFlatBytes int `yaml:"max_flat_bytes"`
	// MaxRequestAttributes bounds the attributes of all the events of a
	// request together (default 25000).
	MaxRequestAttributes int `yaml:"max_request_attributes"`
}

// Sources holds each source's policy.
type Sources struct {
	PortaBilling SourcePolicy `yaml:"portabilling"`
	Transatel    SourcePolicy `yaml:"transatel"`
	JeraSoft     SourcePolicy `yaml:"jerasoft"`
}

// SourcePolicy says who may reach one source and how often. A source is
// served only when it has credentials (ingest.auth) or Insecure.
type SourcePolicy struct {
	// Insecure serves the source without credentials (default false).
	Insecure bool `yaml:"insecure"`
	// InsecurePublic lets an insecure source be served on a listen
	// address that is not loopback (default false: ingest refuses).
	InsecurePublic bool `yaml:"insecure_public"`
	// RateLimit bounds the source's requests (default 1000/s, burst 2000).
	RateLimit RateLimit `yaml:"rate_limit"`
	// CredentialRateLimit bounds the requests of each credential (each
	// instance) of the source (default off).
	CredentialRateLimit RateLimit `yaml:"credential_rate_limit"`
	// AllowCIDRs, when set, is the only client addresses served.
	AllowCIDRs []string `yaml:"allow_cidrs"`
	// ClientCAFile, when set, requires a client certificate signed by
	// this CA bundle (needs ingest.tls).
	ClientCAFile string `yaml:"client_ca_file"`
}

// RateLimit is a token bucket: PerSecond requests a second on average,
// Burst at once. PerSecond 0 is no limit.
type RateLimit struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
}

// ListenTLS configures HTTPS on a listener. The files are re-read when
// they change, so a renewed certificate needs no restart.
type ListenTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Auth holds each source's credentials.
type Auth struct {
	PortaBilling BasicAuth `yaml:"portabilling"`
	Transatel    HMACAuth  `yaml:"transatel"`
	JeraSoft     TokenAuth `yaml:"jerasoft"`
}

// BasicAuth is HTTP Basic credentials (ESPF). Username/Password are the
// default (unnamed) installation; Instances are further installations,
// each with its own credentials.
type BasicAuth struct {
	Username  string          `yaml:"username"`
	Password  string          `yaml:"password"`
	Instances []BasicInstance `yaml:"instances"`
}

// BasicInstance is one named installation of a source and its HTTP Basic
// credentials. Set in the file only (lists of objects have no
// environment form).
type BasicInstance struct {
	Name     string `yaml:"name"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// HMACAuth verifies X-TSL-Signature-256; several secrets may be valid at
// once while one is rotated.
type HMACAuth struct {
	Secrets   []string       `yaml:"secrets"`
	Instances []HMACInstance `yaml:"instances"`
}

// HMACInstance is one named installation and its signing secrets.
type HMACInstance struct {
	Name    string   `yaml:"name"`
	Secrets []string `yaml:"secrets"`
}

// TokenAuth checks a shared token, sent in a header or, only when
// QueryParam is set, in a query parameter.
type TokenAuth struct {
	Token      string          `yaml:"token"`
	Header     string          `yaml:"header"`
	QueryParam string          `yaml:"query_param"`
	Instances  []TokenInstance `yaml:"instances"`
}

// TokenInstance is one named installation and its token.
type TokenInstance struct {
	Name  string `yaml:"name"`
	Token string `yaml:"token"`
}

// Process configures the stream processors.
type Process struct {
	// InstanceID names this processor instance in logs and metrics
	// (default: hostname). Transactional ids are derived per start.
	InstanceID string `yaml:"instance_id"`
	// DedupWindow is how long a routed event_id is remembered.
	DedupWindow Duration `yaml:"dedup_window"`
	// DedupMaxIDs bounds the event ids remembered per router input
	// partition (default 1 000 000, ~40 MB); past it the oldest are
	// forgotten first, before the window ends.
	DedupMaxIDs int `yaml:"dedup_max_ids"`
	// WatermarkSkew is accepted and ignored: the directory's watermarks
	// are offsets since #14, with no clock in the rule. provbus process
	// warns when it is set.
	WatermarkSkew Duration `yaml:"watermark_skew"`
	// RestoreTimeout bounds one state restore (every assigned changelog
	// partition read to its end); past it the processor stops with an
	// error naming the partitions (default 5m).
	RestoreTimeout Duration `yaml:"restore_timeout"`
}

// Console holds the web console's credentials (docs/console.md). With none,
// the console is read-only and serves loopback only; with them, every
// reader and every action must present them (HTTP Basic, or
// Authorization: Bearer <token>), on loopback too unless LoopbackReads.
// The console package checks them.
type Console struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	Token    string `yaml:"token"`
	// LoopbackReads lets loopback readers read without the credentials.
	// Off by default: a reverse proxy on the same host is loopback too.
	LoopbackReads bool `yaml:"loopback_reads"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json or console
}

// Default returns the configuration used when nothing overrides it: the
// `provbus dev` endpoints and safe production settings.
func Default() Config {
	return Config{
		Kafka:    Kafka{Brokers: []string{"127.0.0.1:9092"}, ClientID: "provbus", Compression: DefaultCompression},
		Registry: Registry{URL: "http://127.0.0.1:8081"},
		Topics: Topics{
			Partitions: 12, ReplicationFactor: 1, MinInsyncReplicas: 1,
			HandlerRetention: Duration(7 * 24 * time.Hour),
		},
		Ingest: Ingest{
			Listen: "127.0.0.1:8080", MetricsListen: "127.0.0.1:9465", MaxBodyBytes: 1 << 20,
			Auth:    Auth{JeraSoft: TokenAuth{Header: "X-Auth-Token"}},
			Limits:  Limits{MaxDepth: 32, MaxEvents: 1000, MaxAttributes: 512, MaxAttributeBytes: 64 << 10, MaxFlatBytes: 2 << 20, MaxRequestAttributes: 25000},
			Sources: Sources{PortaBilling: defaultPolicy, Transatel: defaultPolicy, JeraSoft: defaultPolicy},
		},
		Process: Process{DedupWindow: Duration(7 * 24 * time.Hour), DedupMaxIDs: 1_000_000, RestoreTimeout: Duration(5 * time.Minute)},
		Log:     Log{Level: "info", Format: "json"},
	}
}

// defaultPolicy is every source's policy unless configured: closed until
// it has credentials, 1000 requests a second (burst 2000).
var defaultPolicy = SourcePolicy{RateLimit: RateLimit{PerSecond: 1000, Burst: 2000}}

// Load returns Default overlaid with the YAML file at path (if path is not
// empty) and the PROVBUS_* environment, validated.
func Load(path string) (Config, error) {
	cfg := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		if err := decodeYAML(b, &cfg); err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, os.LookupEnv); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// decodeYAML decodes strictly: an unknown key is an error with its line.
func decodeYAML(b []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, errEOF) {
		return err
	}
	return nil
}
