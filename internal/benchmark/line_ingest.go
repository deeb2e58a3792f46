package benchmark

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/provbus/provbus/internal/simulate"
	"github.com/provbus/provbus/topology"
)

// serve serves h on a loopback port until the returned stop is called.
func serve(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err)
		}
	}()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// espfOnly is the ingest lines' traffic: ESPF events of the realistic
// population, the only source that batches (100 per request is an ESPF
// array), so the same bodies go to provbus and to the baseline.
var espfOnly = simulate.Mix{PortaBilling: 1}

// lineIngest measures webhook → acknowledged in Kafka at 1 and 100 events
// per request over 64 keep-alive connections, for provbus's ingest and the
// bare handler, with the load generator on the same cores.
func lineIngest(ctx context.Context, cfg Config, w Wiring) ([]Row, error) {
	c, err := startCluster(ctx, cfg.Catalog, cfg.Partitions)
	if err != nil {
		return nil, err
	}
	defer c.close()
	h, closeIngest, err := w.Ingest(ctx, c.brokers, c.regURL)
	if err != nil {
		return nil, err
	}
	defer closeIngest()
	pbURL, stopPB, err := serve(h)
	if err != nil {
		return nil, err
	}
	defer stopPB()

	// The baseline writes to a topic configured like the domain topics the
	// ingest writes to (broker time), so both pay the same broker work.
	const bareTopic = "bench.ingest"
	if err := c.createAvroTopicsWith(ctx, int32(cfg.Partitions), topology.BrokerTime(), bareTopic); err != nil {
		return nil, err
	}
	bare, err := newBareHandler(c, bareTopic)
	if err != nil {
		return nil, err
	}
	defer bare.close()
	mux := http.NewServeMux()
	mux.Handle("POST /v1/sources/{source}/events", bare)
	bareURL, stopBare, err := serve(mux)
	if err != nil {
		return nil, err
	}
	defer stopBare()

	var rows []Row
	seed := uint64(100)
	for _, batch := range []int{1, 100} {
		run := func(url string, d time.Duration) (simulate.Report, error) {
			seed++
			rep, err := simulate.Run(ctx, simulate.New(simulate.Config{Seed: seed, Mix: espfOnly}),
				simulate.Options{URL: url, Duration: d, Batch: batch, Connections: 64})
			if err == nil && (rep.Rejected > 0 || rep.Failed > 0) {
				err = fmt.Errorf("%d events rejected, %d failed (statuses %v; %s)", rep.Rejected, rep.Failed, rep.Statuses, rep.FirstError)
			}
			return rep, err
		}
		// A short warm-up fills connection pools and producer buffers,
		// so both sides are measured warm.
		for _, url := range []string{pbURL, bareURL} {
			if _, err := run(url, time.Second); err != nil {
				return rows, err
			}
		}
		// provbus and the bare handler take turns in short rounds rather
		// than one long window each: on a shared machine the load of
		// other processes then weighs on both sides alike, and the ratio
		// holds where one window each swung by 2× between runs.
		var pbs, brs []simulate.Report
		for range ingestRounds {
			pb, err := run(pbURL, cfg.IngestDuration/ingestRounds)
			if err != nil {
				return rows, fmt.Errorf("provbus ingest: %w", err)
			}
			br, err := run(bareURL, cfg.IngestDuration/ingestRounds)
			if err != nil {
				return rows, fmt.Errorf("bare handler: %w", err)
			}
			pbs, brs = append(pbs, pb), append(brs, br)
		}
		pb, br := medianRound(pbs), medianRound(brs)
		fmt.Fprintf(cfg.Log, "bench:   batch %d: provbus %.0f events/s p50 %s p99 %s; bare %.0f events/s p50 %s p99 %s (medians of %d rounds)\n",
			batch, pb.rate, pb.p50, pb.p99, br.rate, br.p50, br.p99, ingestRounds)
		step := fmt.Sprintf("1. ingest, %d/request, 64 conns", batch)
		target := "≥ 0.9×, p99 ≤ 25 ms"
		if batch > 1 {
			target = "≥ 1.0×"
		}
		note := fmt.Sprintf("median of %d alternating rounds", ingestRounds)
		rows = append(rows,
			Row{Step: step, Metric: "events/s", Provbus: pb.rate, Baseline: br.rate, Unit: "ev/s", Target: target, Note: note},
			Row{Step: step, Metric: "p50", Provbus: ms(pb.p50), Baseline: ms(br.p50), Unit: "ms", Lower: true},
			Row{Step: step, Metric: "p99", Provbus: ms(pb.p99), Baseline: ms(br.p99), Unit: "ms", Lower: true},
		)
	}
	return rows, nil
}

// ingestRounds is how many alternating rounds each side of the ingest line
// runs for; each lasts IngestDuration / ingestRounds.
const ingestRounds = 5

// round is the median of each figure over the rounds of one side.
type round struct {
	rate     float64
	p50, p99 time.Duration
}

func medianRound(reps []simulate.Report) round {
	rates := make([]float64, len(reps))
	p50s := make([]time.Duration, len(reps))
	p99s := make([]time.Duration, len(reps))
	for i, r := range reps {
		rates[i], p50s[i], p99s[i] = r.Rate(), r.P50, r.P99
	}
	slices.Sort(rates)
	slices.Sort(p50s)
	slices.Sort(p99s)
	m := len(reps) / 2
	return round{rate: rates[m], p50: p50s[m], p99: p99s[m]}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
