// Package benchmark is `provbus bench` (and `make bench`): one harness that
// runs the pipeline on a fresh embedded cluster persisted in a data
// directory — the same components `provbus dev` runs, in this process — and
// measures each step of the flow next to a bare baseline for the same step,
// run by the same harness on the same machine in the same run. The table
// reports both and their ratio, because absolute figures on a shared
// machine drift and ratios do not.
//
// The baselines are what an engineer would write with no framework: a plain
// net/http handler that decodes JSON, Avro-encodes and produces with
// franz-go (acks=all, idempotent); a bare two-stage GroupTransactSession
// copy loop that Avro-decodes and re-encodes at each hop; a plain map and
// a plain consumer for the directory; a plain consumer with json.Marshal
// for the replay; the copy loop's output POSTed as JSON by a plain
// consumer for the delivery to connectors.
package benchmark

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/provbus/provbus/topology"
)

// Wiring is how the harness starts provbus's own components; cmd/provbus
// passes the functions `provbus dev` uses, so the harness measures exactly
// what users run.
type Wiring struct {
	// Ingest returns the ingest HTTP handler for the cluster, and a close
	// function.
	Ingest func(ctx context.Context, brokers []string, registryURL string) (http.Handler, func(), error)
	// Process runs the named processors (directory, dispatch, route; all
	// when empty) until ctx is cancelled.
	Process func(ctx context.Context, brokers []string, registryURL string, only []string) error
	// Deliver runs `provbus deliver` for the handlers of urls (catalog
	// handler name → connector URL, every other setting its default)
	// until ctx is cancelled.
	Deliver func(ctx context.Context, brokers []string, registryURL string, urls map[string]string) error
}

// Config sizes a run. The defaults fit the whole table in well under ten
// minutes on a 2-core machine.
type Config struct {
	Catalog *topology.Catalog
	// Partitions of every topic (default 12, provbus's default).
	Partitions int
	// IngestDuration is the length of each ingest measurement (default 6 s).
	IngestDuration time.Duration
	// Backlog is the number of customer events pre-loaded for the
	// processing line (default 60 000 at fan-out 1; a sixth at fan-out 10).
	Backlog int
	// FanOut is the accounts of the one customer of the big fan-out line
	// (default 100 000).
	FanOut int
	// LatencyRate and LatencyDuration drive the end-to-end line (default
	// 10 000 events/s for 8 s).
	LatencyRate     float64
	LatencyDuration time.Duration
	// DeliverRate and DeliverDuration drive the webhook → connector line
	// (default 1 000 events/s for 10 s).
	DeliverRate     float64
	DeliverDuration time.Duration
	// DirectoryAccounts is the directory line's size (default 1 000 000).
	DirectoryAccounts int
	// ReplayRecords is the replay line's size (default 200 000).
	ReplayRecords int
	// Only runs the lines whose number is listed (default all).
	Only []int
	// Log receives progress lines (nil: none).
	Log io.Writer
}

func (c *Config) defaults() {
	if c.Partitions <= 0 {
		c.Partitions = 12
	}
	if c.IngestDuration <= 0 {
		c.IngestDuration = 6 * time.Second
	}
	if c.Backlog <= 0 {
		c.Backlog = 60_000
	}
	if c.FanOut <= 0 {
		c.FanOut = 100_000
	}
	if c.LatencyRate <= 0 {
		c.LatencyRate = 10_000
	}
	if c.LatencyDuration <= 0 {
		c.LatencyDuration = 8 * time.Second
	}
	if c.DeliverRate <= 0 {
		c.DeliverRate = 1_000
	}
	if c.DeliverDuration <= 0 {
		c.DeliverDuration = 10 * time.Second
	}
	if c.DirectoryAccounts <= 0 {
		c.DirectoryAccounts = 1_000_000
	}
	if c.ReplayRecords <= 0 {
		c.ReplayRecords = 200_000
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// Row is one line of the table.
type Row struct {
	Step     string
	Metric   string
	Provbus  float64
	Baseline float64
	Unit     string
	// Lower means a metric where less is better (latency, bytes, time):
	// the ratio is then baseline / provbus, so ≥ 1 is always "as good".
	Lower  bool
	Target string
	Note   string
}

// Ratio is provbus relative to the baseline, oriented so that 1.0 means
// "as good as bare" and more is better.
func (r Row) Ratio() float64 {
	if r.Provbus == 0 || r.Baseline == 0 {
		return 0
	}
	if r.Lower {
		return r.Baseline / r.Provbus
	}
	return r.Provbus / r.Baseline
}

// Run runs the selected lines and returns their rows. A line that fails
// is reported as a row with the error in its note, so one broken step does
// not hide the others.
func Run(ctx context.Context, cfg Config, w Wiring) ([]Row, error) {
	cfg.defaults()
	if cfg.Catalog == nil {
		c, err := topology.Default()
		if err != nil {
			return nil, err
		}
		cfg.Catalog = c
	}
	lines := []struct {
		n    int
		name string
		run  func(context.Context, Config, Wiring) ([]Row, error)
	}{
		{1, "ingest", lineIngest},
		{2, "processing", lineProcessing},
		{3, "big fan-out", lineFanOut},
		{4, "end-to-end latency", lineLatency},
		{5, "directory", lineDirectory},
		{6, "replay", lineReplay},
		{7, "webhook → connector", lineDeliver},
	}
	var rows []Row
	for _, l := range lines {
		if !selected(cfg.Only, l.n) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return rows, err
		}
		start := time.Now()
		fmt.Fprintf(cfg.Log, "bench: %d. %s …\n", l.n, l.name)
		rs, err := l.run(ctx, cfg, w)
		if err != nil {
			rs = append(rs, Row{Step: fmt.Sprintf("%d. %s", l.n, l.name), Metric: "error", Note: err.Error()})
		}
		fmt.Fprintf(cfg.Log, "bench: %d. %s done in %s\n", l.n, l.name, time.Since(start).Round(100*time.Millisecond))
		rows = append(rows, rs...)
	}
	return rows, nil
}

func selected(only []int, n int) bool {
	if len(only) == 0 {
		return true
	}
	for _, o := range only {
		if o == n {
			return true
		}
	}
	return false
}
