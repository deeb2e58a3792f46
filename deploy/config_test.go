package deploy

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/provbus/provbus/internal/config"
)

const examplePath = "../provbus.example.yaml"

// clearEnv unsets every PROVBUS_* variable Load reads for the test, so the
// developer's environment cannot make the example pass or fail.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, n := range append(config.EnvNames(), "PROVBUS_BROKERS", "PROVBUS_REGISTRY", "PROVBUS_CONFIG") {
		t.Setenv(n, "") // restores the old value after the test
		os.Unsetenv(n)
	}
}

// TestExampleConfigLoads loads provbus.example.yaml exactly as provbus does
// (strict keys, then validation).
func TestExampleConfigLoads(t *testing.T) {
	clearEnv(t)
	cfg, err := config.Load(examplePath)
	if err != nil {
		t.Fatalf("provbus.example.yaml: %v", err)
	}
	if cfg.Kafka.SASL.Mechanism != "SCRAM-SHA-512" || cfg.Topics.ReplicationFactor != 3 || !cfg.Kafka.TLS.Enabled {
		t.Errorf("the example's production settings were not read: %+v", cfg.Kafka)
	}
}

// TestExampleConfigIsComplete checks that the example shows every key
// config knows and that docs/configuration.md names every environment
// variable, so neither falls behind internal/config.
func TestExampleConfigIsComplete(t *testing.T) {
	b, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	collectEnvNames(root.Content[0], "PROVBUS", have)
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range config.EnvNames() {
		if !have[n] {
			t.Errorf("provbus.example.yaml lacks the key of %s", n)
		}
		if !strings.Contains(string(doc), n) {
			t.Errorf("docs/configuration.md does not mention %s", n)
		}
	}
}

// collectEnvNames records the environment name of every leaf key under n.
func collectEnvNames(n *yaml.Node, prefix string, out map[string]bool) {
	if n.Kind != yaml.MappingNode {
		out[prefix] = true
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		collectEnvNames(n.Content[i+1], prefix+"_"+strings.ToUpper(n.Content[i].Value), out)
	}
}

// TestBrokenConfigNamesTheKey guards the example test itself: the same
// loader must reject a bad value and an unknown key, naming it.
func TestBrokenConfigNamesTheKey(t *testing.T) {
	clearEnv(t)
	b, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ old, new, key string }{
		{"mechanism: SCRAM-SHA-512", "mechanism: KERBEROS", "kafka.sasl.mechanism"},
		{"min_insync_replicas: 2", "min_insync_replicas: 4", "topics.min_insync_replicas"},
		{"dedup_window: 7d", "dedup_window: 7d\n  dedupe_window: 7d", "dedupe_window"},
	} {
		if strings.Count(string(b), tc.old) != 1 {
			t.Fatalf("%q must occur once in the example", tc.old)
		}
		path := t.TempDir() + "/provbus.yaml"
		if err := os.WriteFile(path, []byte(strings.Replace(string(b), tc.old, tc.new, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := config.Load(path); err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: error %v does not name %s", tc.new, err, tc.key)
		}
	}
}
