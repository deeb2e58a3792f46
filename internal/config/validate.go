package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"slices"
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
	if c.Kafka.Compression != "" && !slices.Contains(Compressions, strings.ToLower(c.Kafka.Compression)) {
		bad("kafka.compression", "%q is not one of %s", c.Kafka.Compression, strings.Join(Compressions, ", "))
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
	c.Ingest.validate(bad)
	if c.Process.DedupWindow <= 0 {
		bad("process.dedup_window", "must be positive")
	}
	if c.Process.DedupMaxIDs <= 0 {
		bad("process.dedup_max_ids", "must be positive")
	}
	if c.Process.RestoreTimeout <= 0 {
		bad("process.restore_timeout", "must be positive")
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

// validate checks the ingest keys.
func (in *Ingest) validate(bad func(key, format string, a ...any)) {
	if in.MetricsListen != "off" {
		if _, _, err := net.SplitHostPort(in.MetricsListen); err != nil {
			bad("ingest.metrics_listen", "%q is not host:port or off", in.MetricsListen)
		}
	}
	l := in.Limits
	for _, v := range []struct {
		key    string
		n, min int
	}{
		{"ingest.limits.max_depth", l.MaxDepth, 2}, {"ingest.limits.max_events", l.MaxEvents, 1},
		{"ingest.limits.max_attributes", l.MaxAttributes, 1}, {"ingest.limits.max_attribute_bytes", l.MaxAttributeBytes, 1},
		{"ingest.limits.max_flat_bytes", l.MaxFlatBytes, 1024}, {"ingest.limits.max_request_attributes", l.MaxRequestAttributes, 1},
	} {
		if v.n < v.min {
			bad(v.key, "must be at least %d, got %d", v.min, v.n)
		}
	}
	pb := in.Auth.PortaBilling
	if (pb.Username == "") != (pb.Password == "") {
		bad("ingest.auth.portabilling", "username and password go together")
	}
	names := map[string]map[string]bool{}
	instance := func(source string, i int, name string) {
		key := fmt.Sprintf("ingest.auth.%s.instances[%d].name", source, i)
		if !ValidInstance(name) {
			bad(key, "%q: use 1 to 32 of a-z 0-9 _ - (starting with a letter or digit)", name)
		}
		if names[source] == nil {
			names[source] = map[string]bool{}
		}
		if names[source][name] {
			bad(key, "%q is used twice", name)
		}
		names[source][name] = true
	}
	for i, inst := range pb.Instances {
		instance("portabilling", i, inst.Name)
		if inst.Username == "" || inst.Password == "" {
			bad(fmt.Sprintf("ingest.auth.portabilling.instances[%d]", i), "username and password are required")
		}
	}
	secrets := func(key string, ss []string) {
		for i, s := range ss {
			if len(s) < 16 {
				bad(fmt.Sprintf("%s[%d]", key, i), "a secret must be at least 16 characters")
			}
		}
	}
	secrets("ingest.auth.transatel.secrets", in.Auth.Transatel.Secrets)
	for i, inst := range in.Auth.Transatel.Instances {
		instance("transatel", i, inst.Name)
		key := fmt.Sprintf("ingest.auth.transatel.instances[%d].secrets", i)
		if len(inst.Secrets) == 0 {
			bad(key, "at least one secret is required")
		}
		secrets(key, inst.Secrets)
	}
	js := in.Auth.JeraSoft
	if (js.Token != "" || len(js.Instances) > 0) && js.Header == "" && js.QueryParam == "" {
		bad("ingest.auth.jerasoft", "a token needs a header or a query_param to be read from")
	}
	for i, inst := range js.Instances {
		instance("jerasoft", i, inst.Name)
		if inst.Token == "" {
			bad(fmt.Sprintf("ingest.auth.jerasoft.instances[%d].token", i), "required")
		}
	}
	tlsOn := in.TLS.CertFile != "" || in.TLS.KeyFile != ""
	if (in.TLS.CertFile == "") != (in.TLS.KeyFile == "") {
		bad("ingest.tls", "cert_file and key_file go together")
	}
	for _, cidr := range in.TrustedProxies {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			bad("ingest.trusted_proxies", "%q is not a CIDR (10.0.0.0/8, 2001:db8::/32)", cidr)
		}
	}
	for _, name := range SourceNames {
		p := in.Sources.Policy(name)
		key := "ingest.sources." + name
		for _, rl := range []struct {
			key string
			r   RateLimit
		}{{key + ".rate_limit", p.RateLimit}, {key + ".credential_rate_limit", p.CredentialRateLimit}} {
			if rl.r.PerSecond < 0 || rl.r.Burst < 0 || (rl.r.PerSecond > 0 && rl.r.Burst < 1) {
				bad(rl.key, "per_second must be >= 0 and burst >= 1 when per_second is set")
			}
		}
		for _, cidr := range p.AllowCIDRs {
			if _, err := netip.ParsePrefix(cidr); err != nil {
				bad(key+".allow_cidrs", "%q is not a CIDR (10.0.0.0/8, 2001:db8::/32)", cidr)
			}
		}
		if p.ClientCAFile != "" && !tlsOn {
			bad(key+".client_ca_file", "needs ingest.tls (client certificates come with TLS)")
		}
		if p.InsecurePublic && !p.Insecure {
			bad(key+".insecure_public", "only means something with insecure: true")
		}
	}
}

// SourceNames are the sources ingest.auth and ingest.sources configure.
var SourceNames = []string{"portabilling", "transatel", "jerasoft"}

// Policy returns the policy of the named source (the zero policy for an
// unknown name: closed).
func (s Sources) Policy(source string) SourcePolicy {
	switch source {
	case "portabilling":
		return s.PortaBilling
	case "transatel":
		return s.Transatel
	case "jerasoft":
		return s.JeraSoft
	}
	return SourcePolicy{}
}

// SetPolicy replaces the policy of the named source.
func (s *Sources) SetPolicy(source string, p SourcePolicy) {
	switch source {
	case "portabilling":
		s.PortaBilling = p
	case "transatel":
		s.Transatel = p
	case "jerasoft":
		s.JeraSoft = p
	}
}

// Has reports whether the named source has credentials configured.
func (a Auth) Has(source string) bool {
	switch source {
	case "portabilling":
		return a.PortaBilling.Username != "" || len(a.PortaBilling.Instances) > 0
	case "transatel":
		return len(a.Transatel.Secrets) > 0 || len(a.Transatel.Instances) > 0
	case "jerasoft":
		return a.JeraSoft.Token != "" || len(a.JeraSoft.Instances) > 0
	}
	return false
}

// ValidInstance reports whether name can name a source instance: it is
// the prefix of the instance's event ids ("<instance>:<id>"), a record
// header and a filter value, so it is short and plain.
func ValidInstance(name string) bool {
	if name == "" || len(name) > 32 || name[0] == '-' || name[0] == '_' {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// HasSourceAuth reports whether any source has credentials configured.
func (a Auth) HasSourceAuth() bool {
	for _, name := range SourceNames {
		if a.Has(name) {
			return true
		}
	}
	return false
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
