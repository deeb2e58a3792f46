package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/provbus/provbus/internal/benchmark"
	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/internal/stream"
)

// Registered here rather than in main.go so the bench command is one file.
func init() {
	commands["bench"] = command{
		summary: "measure the pipeline against bare baselines on embedded clusters (make bench)",
		example: "provbus bench --write BENCHMARKS.md",
		run:     runBench,
	}
}

const benchUsage = `usage: provbus bench [flags]

Runs each step of the pipeline — 1 ingest, 2 dispatch + route, 3 a big
fan-out, 4 webhook → handler topic latency, 5 the directory, 6 replay,
7 webhook → connector latency through provbus deliver — on a fresh embedded cluster
persisted in a temporary data directory, with the components provbus dev
runs, next to a bare baseline of the same step in the same run, and prints
one table with the ratios. --write appends nothing: it rewrites the run
section of the given Markdown file between its markers.

flags:
`

func runBench(ctx context.Context, g *globals, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	write := fs.String("write", "", "Markdown file whose generated section receives the run (e.g. BENCHMARKS.md)")
	only := fs.String("lines", "", "comma list of line numbers to run (default all)")
	scale := fs.Float64("scale", 1, "multiply every size by this (0.1 for a quick look)")
	note := fs.String("context", os.Getenv("PROVBUS_BENCH_CONTEXT"), "what else ran on the machine, for the record")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	if err := parseFlags(fs, benchUsage, args); err != nil {
		return err
	}
	if g.logLevel == "" {
		g.logLevel = "error" // the table is the output
	}
	e, err := g.load()
	if err != nil {
		return err
	}
	cfg := benchmark.Config{Catalog: e.catalog, Log: os.Stderr}
	for _, s := range splitList(*only) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%w: --lines: %q", errUsage, s)
		}
		cfg.Only = append(cfg.Only, n)
	}
	if *scale != 1 {
		sc := func(n int) int { return max(int(float64(n)**scale), 1) }
		cfg.Backlog, cfg.FanOut, cfg.DirectoryAccounts, cfg.ReplayRecords = sc(60_000), sc(100_000), sc(1_000_000), sc(200_000)
		cfg.DeliverDuration = max(time.Duration(float64(10*time.Second)**scale), time.Second)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	rows, err := benchmark.Run(ctx, cfg, benchWiring(e))
	if err != nil {
		return err
	}
	took := time.Since(start)
	if err := benchmark.WriteTable(os.Stdout, rows); err != nil {
		return err
	}
	if *write == "" {
		return nil
	}
	var sec bytes.Buffer
	cmd := "make bench"
	if len(os.Args) > 1 {
		cmd = "make bench  # or: provbus " + strings.Join(os.Args[1:], " ")
	}
	benchmark.WriteRun(&sec, benchmark.ThisMachine(), cmd, *note, took, rows)
	return benchmark.ReplaceSection(*write, sec.String())
}

// benchWiring hands the harness the ingest and processors exactly as
// provbus dev builds them, pointed at the harness's cluster.
func benchWiring(e *env) benchmark.Wiring {
	at := func(brokers []string, registryURL string) *env {
		c := *e
		c.cfg.Kafka.Brokers = brokers
		c.cfg.Registry.URL = registryURL
		return &c
	}
	return benchmark.Wiring{
		Ingest: func(ctx context.Context, brokers []string, registryURL string) (http.Handler, func(), error) {
			srv, err := newDevIngestServer(ctx, at(brokers, registryURL))
			if err != nil {
				return nil, nil, err
			}
			return srv.Handler(), srv.Close, nil
		},
		Process: func(ctx context.Context, brokers []string, registryURL string, only []string) error {
			deps, err := at(brokers, registryURL).processDeps()
			if err != nil {
				return err
			}
			deps.only = only
			deps.log = zap.NewNop()
			// Short group timeouts: the harness starts and stops
			// processors between measurements.
			deps.runner = append(deps.runner, stream.WithGroupTimeouts(6*time.Second, 10*time.Second))
			return runProcessors(ctx, deps)
		},
		Deliver: func(ctx context.Context, brokers []string, registryURL string, urls map[string]string) error {
			d := at(brokers, registryURL)
			d.cfg.Deliver.Handlers = make(map[string]config.DeliverHandler, len(urls))
			for name, url := range urls {
				d.cfg.Deliver.Handlers[name] = config.DeliverHandler{URL: url}
			}
			d.log = zap.NewNop()
			return runDelivery(ctx, d, deliverFlags{})
		},
	}
}
