package deploy

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// metricContract is the pipeline's own metric names with their labels: the
// dashboard, the alerts people write and docs/operations.md depend on them,
// and the metric code must use exactly these.
var metricContract = map[string][]string{
	"provbus_ingest_events_total":            {"source", "type", "outcome"},
	"provbus_ingest_latency_seconds":         {"source"},
	"provbus_records_produced_total":         {"topic"},
	"provbus_dispatch_fanout_size":           nil,
	"provbus_process_latency_seconds":        {"processor"},
	"provbus_dedup_hits_total":               nil,
	"provbus_dlq_records_total":              {"reason", "topic"},
	"provbus_consumer_lag":                   {"group", "topic", "partition"},
	"provbus_directory_accounts":             nil,
	"provbus_dispatch_blocked_since_seconds": nil,
}

// kpromMetrics are the franz-go kprom names (namespace "kafka") the
// dashboard reads.
var kpromMetrics = map[string]bool{
	"kafka_produce_records_total": true, "kafka_fetch_records_total": true,
	"kafka_produce_uncompressed_bytes_total": true, "kafka_fetch_uncompressed_bytes_total": true,
	"kafka_connect_errors_total": true, "kafka_read_errors_total": true, "kafka_write_errors_total": true,
	"kafka_buffered_produce_records_total": true,
}

type dashboard struct {
	Title  string  `json:"title"`
	UID    string  `json:"uid"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

var metricName = regexp.MustCompile(`\b(?:provbus|kafka)_[a-z0-9_]+`)

// TestDashboardUsesTheContract checks that the Grafana dashboard shows
// every contract metric and no metric outside the contract (a typo would
// be an empty panel nobody notices), and that docs/operations.md lists the
// contract.
func TestDashboardUsesTheContract(t *testing.T) {
	b, err := os.ReadFile("grafana/provbus.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/provbus.json: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard needs a uid and a title")
	}
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range metricName.FindAllString(tg.Expr, -1) {
				base := m
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if trimmed, ok := strings.CutSuffix(m, suf); ok && hasKey(trimmed) {
						base = trimmed
					}
				}
				if !hasKey(base) && !kpromMetrics[base] {
					t.Errorf("panel %q uses %s, which is not in the metric contract", p.Title, m)
				}
				used[base] = true
			}
		}
	}
	ops, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for m := range metricContract {
		if !used[m] {
			t.Errorf("no dashboard panel shows %s", m)
		}
		if !strings.Contains(string(ops), m) {
			t.Errorf("docs/operations.md does not list %s", m)
		}
	}
}

func hasKey(m string) bool {
	_, ok := metricContract[m]
	return ok
}
