package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
)

var errEOF = io.EOF

// Validate checks every value and names the key of the first bad one.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, a...)))
	}
	if len(c.Kafka.Brokers) == 0 {
		bad("kafka.brokers", "at least one broker is required")
	}
	for _, b := range c.Kafka.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			bad("kafka.brokers", "%q is not host:port", b)
		}
	}
	switch strings.ToUpper(c.Kafka.SASL.Mechanism) {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		bad("kafka.sasl.mechanism", "%q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.Kafka.SASL.Mechanism)
	}
	if c.Kafka.SASL.Mechanism != "" && c.Kafka.SASL.Username == "" {
		bad("kafka.sasl.username", "required with kafka.sasl.mechanism")
	}
	if u, err := url.Parse(c.Registry.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("registry.url", "%q is not an http(s) URL", c.Registry.URL)
	}
	if !validTopicPrefix(c.Topics.Prefix) {
		bad("topics.prefix", "%q: use at most 100 of the characters a-z A-Z 0-9 . _ -", c.Topics.Prefix)
	}
	if c.Topics.Partitions < 1 {
		bad("topics.partitions", "must be at least 1, got %d", c.Topics.Partitions)
	}
	if c.Topics.ReplicationFactor < 1 {
		bad("topics.replication_factor", "must be at least 1, got %d", c.Topics.ReplicationFactor)
	}
	if c.Topics.MinInsyncReplicas < 1 || c.Topics.MinInsyncReplicas > c.Topics.ReplicationFactor {
		bad("topics.min_insync_replicas", "must be between 1 and topics.replication_factor (%d), got %d", c.Topics.ReplicationFactor, c.Topics.MinInsyncReplicas)
	}
	if c.Topics.HandlerRetention <= 0 {
		bad("topics.handler_retention", "must be positive")
	}
	if _, _, err := net.SplitHostPort(c.Ingest.Listen); err != nil {
		bad("ingest.listen", "%q is not host:port", c.Ingest.Listen)
	}
	if c.Ingest.MaxBodyBytes < 1024 {
		bad("ingest.max_body_bytes", "must be at least 1024, got %d", c.Ingest.MaxBodyBytes)
	}
	pb := c.Ingest.Auth.PortaBilling
	if (pb.Username == "") != (pb.Password == "") {
		bad("ingest.auth.portabilling", "username and password go together")
	}
	for i, s := range c.Ingest.Auth.Transatel.Secrets {
		if len(s) < 16 {
			bad(fmt.Sprintf("ingest.auth.transatel.secrets[%d]", i), "a secret must be at least 16 characters")
		}
	}
	js := c.Ingest.Auth.JeraSoft
	if js.Token != "" && js.Header == "" && js.QueryParam == "" {
		bad("ingest.auth.jerasoft", "a token needs a header or a query_param to be read from")
	}
	if c.Process.DedupWindow <= 0 {
		bad("process.dedup_window", "must be positive")
	}
	if c.Process.WatermarkSkew < 0 {
		bad("process.watermark_skew", "must not be negative")
	}
	c.Deliver.validate(bad)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		bad("log.format", "%q is not json or console", c.Log.Format)
	}
	return errors.Join(errs...)
}

// HasSourceAuth reports whether any source has credentials configured.
func (a Auth) HasSourceAuth() bool {
	return a.PortaBilling.Username != "" || len(a.Transatel.Secrets) > 0 || a.JeraSoft.Token != ""
}

// validTopicPrefix reports whether p can stand before a Kafka topic name.
func validTopicPrefix(p string) bool {
	if len(p) > 100 {
		return false
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
