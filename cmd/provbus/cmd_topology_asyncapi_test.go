package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestTopologyAsyncAPICommand runs `provbus topology asyncapi --out FILE`
// through the real command table, so it also catches the asyncapi wrap
// being lost (see cmd_topology_asyncapi.go) and plan|apply being shadowed.
func TestTopologyAsyncAPICommand(t *testing.T) {
	t.Setenv("PROVBUS_BROKERS", "kafka:9092")
	t.Setenv("PROVBUS_REGISTRY", "http://schema-registry:8081")
	out := filepath.Join(t.TempDir(), "asyncapi.json")
	if code := run(context.Background(), []string{"topology", "asyncapi", "--out", out}); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AsyncAPI string `json:"asyncapi"`
		Servers  map[string]struct {
			Host string `json:"host"`
		} `json:"servers"`
		Channels map[string]json.RawMessage `json:"channels"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.AsyncAPI != "3.0.0" || doc.Servers["kafka"].Host != "kafka:9092" || doc.Channels["portabilling.account"] == nil {
		t.Errorf("unexpected document: asyncapi %q, servers %v, %d channels", doc.AsyncAPI, doc.Servers, len(doc.Channels))
	}
	if code := run(context.Background(), []string{"topology", "nonsense"}); code != 2 {
		t.Errorf("topology nonsense: exit code %d, want 2 (the plan|apply command still answers)", code)
	}
}
