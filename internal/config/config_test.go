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

func TestEnvNamesFollowYAMLPaths(t *testing.T) {
	names := strings.Join(EnvNames(), " ")
	for _, want := range []string{"PROVBUS_KAFKA_BROKERS", "PROVBUS_KAFKA_SASL_MECHANISM", "PROVBUS_INGEST_AUTH_TRANSATEL_SECRETS", "PROVBUS_PROCESS_DEDUP_WINDOW"} {
		if !strings.Contains(names, want) {
			t.Errorf("EnvNames lacks %s", want)
		}
	}
}
