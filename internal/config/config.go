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
	Catalog string `yaml:"catalog"`
	Log     Log    `yaml:"log"`
}

// Kafka says how to reach the cluster.
type Kafka struct {
	Brokers  []string `yaml:"brokers"`
	ClientID string   `yaml:"client_id"`
	TLS      TLS      `yaml:"tls"`
	SASL     SASL     `yaml:"sasl"`
}

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
	Listen       string `yaml:"listen"`
	MaxBodyBytes int64  `yaml:"max_body_bytes"`
	// InsecureNoAuth lets provbus ingest start with no source credentials.
	InsecureNoAuth bool `yaml:"insecure_no_auth"`
	Auth           Auth `yaml:"auth"`
}

// Auth holds each source's credentials.
type Auth struct {
	PortaBilling BasicAuth `yaml:"portabilling"`
	Transatel    HMACAuth  `yaml:"transatel"`
	JeraSoft     TokenAuth `yaml:"jerasoft"`
}

// BasicAuth is HTTP Basic credentials (ESPF).
type BasicAuth struct {
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// HMACAuth verifies X-TSL-Signature-256; several secrets may be valid at
// once while one is rotated.
type HMACAuth struct {
	Secrets []string `yaml:"secrets"`
}

// TokenAuth checks a shared token, sent in a header or a query parameter.
type TokenAuth struct {
	Token      string `yaml:"token"`
	Header     string `yaml:"header"`
	QueryParam string `yaml:"query_param"`
}

// Process configures the stream processors.
type Process struct {
	// InstanceID names this processor instance in logs and metrics
	// (default: hostname). Transactional ids are derived per start.
	InstanceID string `yaml:"instance_id"`
	// DedupWindow is how long a routed event_id is remembered.
	DedupWindow Duration `yaml:"dedup_window"`
	// WatermarkSkew is how far the directory's watermarks trail the newest
	// fact (0 = directory.DefaultSkew, 100 ms): more than the clock
	// disagreement between ingest instances, and a floor of every
	// dispatch's latency.
	WatermarkSkew Duration `yaml:"watermark_skew"`
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
		Kafka:    Kafka{Brokers: []string{"127.0.0.1:9092"}, ClientID: "provbus"},
		Registry: Registry{URL: "http://127.0.0.1:8081"},
		Topics: Topics{
			Partitions: 12, ReplicationFactor: 1, MinInsyncReplicas: 1,
			HandlerRetention: Duration(7 * 24 * time.Hour),
		},
		Ingest: Ingest{
			Listen: "127.0.0.1:8080", MaxBodyBytes: 1 << 20,
			Auth: Auth{JeraSoft: TokenAuth{Header: "X-Auth-Token", QueryParam: "token"}},
		},
		Process: Process{DedupWindow: Duration(7 * 24 * time.Hour)},
		Log:     Log{Level: "info", Format: "json"},
	}
}

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
