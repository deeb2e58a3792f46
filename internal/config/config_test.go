package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "provbus.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultIsValid(t *testing.T) {
	cfg := Default()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadFileAndEnv(t *testing.T) {
	p := writeFile(t, `
kafka:
  brokers: [k1:9092, k2:9092]
  sasl: {mechanism: SCRAM-SHA-512, username: u, password: p}
topics:
  partitions: 24
  handler_retention: 3d
ingest:
  auth:
    transatel:
      secrets: [0123456789abcdef0123, fedcba9876543210fedc]
`)
	t.Setenv("PROVBUS_REGISTRY", "http://sr:8081")
	t.Setenv("PROVBUS_TOPICS_PARTITIONS", "36")
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Kafka.Brokers) != 2 || cfg.Kafka.SASL.Mechanism != "SCRAM-SHA-512" {
		t.Fatalf("kafka = %+v", cfg.Kafka)
	}
	if cfg.Topics.Partitions != 36 || cfg.Topics.HandlerRetention.Std() != 72*time.Hour {
		t.Fatalf("topics = %+v", cfg.Topics)
	}
	if cfg.Registry.URL != "http://sr:8081" || len(cfg.Ingest.Auth.Transatel.Secrets) != 2 {
		t.Fatalf("registry %q, secrets %v", cfg.Registry.URL, cfg.Ingest.Auth.Transatel.Secrets)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	cases := map[string]string{
		"kafka:\n  brokerz: [a:1]\n":                   "line 2: field brokerz not found",
		"topics:\n  partitions: 0\n":                   "topics.partitions",
		"kafka:\n  sasl: {mechanism: GSSAPI}\n":        "kafka.sasl.mechanism",
		"kafka:\n  compression: brotli\n":              "kafka.compression",
		"log:\n  level: loud\n":                        "log.level",
		"topics:\n  handler_retention: soon\n":         `"soon" is not a duration`,
		"registry:\n  url: sr:8081\n":                  "registry.url",
		"ingest:\n  auth: {transatel: {secrets: [x]}}": "ingest.auth.transatel.secrets[0]",
		"ingest:\n  auth: {portabilling: {instances: [{name: \"EU:1\", username: u, password: p}]}}": "ingest.auth.portabilling.instances[0].name",
		"ingest:\n  auth: {jerasoft: {instances: [{name: a, token: t}, {name: a, token: u}]}}":       "ingest.auth.jerasoft.instances[1].name",
		"ingest:\n  trusted_proxies: [10.0.0.1]":                                                     "ingest.trusted_proxies",
		"ingest:\n  sources: {transatel: {allow_cidrs: [nope]}}":                                     "ingest.sources.transatel.allow_cidrs",
		"ingest:\n  sources: {portabilling: {client_ca_file: /ca.pem}}":                              "ingest.sources.portabilling.client_ca_file",
		"ingest:\n  sources: {jerasoft: {rate_limit: {per_second: 5, burst: 0}}}":                    "ingest.sources.jerasoft.rate_limit",
		"ingest:\n  sources: {jerasoft: {insecure_public: true}}":                                    "ingest.sources.jerasoft.insecure_public",
		"ingest:\n  tls: {cert_file: /c.pem}":                                                        "ingest.tls",
		"ingest:\n  limits: {max_depth: 1}":                                                          "ingest.limits.max_depth",
		"ingest:\n  limits: {max_request_attributes: -1}":                                            "ingest.limits.max_request_attributes",
	}
	for body, want := range cases {
		_, err := Load(writeFile(t, body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want it to mention %q", body, err, want)
		}
	}
	t.Setenv("PROVBUS_TOPICS_PARTITIONS", "many")
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), "PROVBUS_TOPICS_PARTITIONS") {
		t.Errorf("bad env: err = %v", err)
	}
}

func TestIngestEnvAndDefaults(t *testing.T) {
	t.Setenv("PROVBUS_INGEST_SOURCES_JERASOFT_RATE_LIMIT_PER_SECOND", "2.5")
	t.Setenv("PROVBUS_INGEST_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.0.0/16")
	t.Setenv("PROVBUS_INGEST_LIMITS_MAX_REQUEST_ATTRIBUTES", "20000")
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.Ingest
	if in.Sources.JeraSoft.RateLimit.PerSecond != 2.5 || len(in.TrustedProxies) != 2 || in.Limits.MaxRequestAttributes != 20000 {
		t.Errorf("env not applied: %+v %v %+v", in.Sources.JeraSoft.RateLimit, in.TrustedProxies, in.Limits)
	}
	// Secure by default: no source open, the JeraSoft token never read
	// from a URL, metrics on loopback.
	for _, name := range SourceNames {
		if p := in.Sources.Policy(name); p.Insecure || in.Auth.Has(name) {
			t.Errorf("%s is open or has credentials by default", name)
		}
	}
	if in.Auth.JeraSoft.QueryParam != "" || in.MetricsListen != "127.0.0.1:9465" {
		t.Errorf("query_param %q, metrics_listen %q", in.Auth.JeraSoft.QueryParam, in.MetricsListen)
	}
	for _, name := range EnvNames() {
		if strings.Contains(name, "INSTANCES") {
			t.Errorf("%s: lists of objects have no environment form", name)
		}
	}
}

func TestEnvNamesFollowYAMLPaths(t *testing.T) {
	names := strings.Join(EnvNames(), " ")
	for _, want := range []string{"PROVBUS_KAFKA_BROKERS", "PROVBUS_KAFKA_SASL_MECHANISM", "PROVBUS_INGEST_AUTH_TRANSATEL_SECRETS", "PROVBUS_PROCESS_DEDUP_WINDOW"} {
		if !strings.Contains(names, want) {
			t.Errorf("EnvNames lacks %s", want)
		}
	}
}
