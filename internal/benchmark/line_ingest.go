package benchmark

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/provbus/provbus/internal/simulate"
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

	const bareTopic = "bench.ingest"
	if err := c.createAvroTopics(ctx, int32(cfg.Partitions), bareTopic); err != nil {
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
		measure := func(url string) (simulate.Report, error) {
			seed++
			// A short warm-up fills connection pools and producer
			// buffers, so both sides are measured warm.
			if _, err := simulate.Run(ctx, simulate.New(simulate.Config{Seed: seed + 1000, Mix: espfOnly}),
				simulate.Options{URL: url, Duration: time.Second, Batch: batch, Connections: 64}); err != nil {
				return simulate.Report{}, err
			}
			rep, err := simulate.Run(ctx, simulate.New(simulate.Config{Seed: seed, Mix: espfOnly}),
				simulate.Options{URL: url, Duration: cfg.IngestDuration, Batch: batch, Connections: 64})
			if err == nil && (rep.Rejected > 0 || rep.Failed > 0) {
				err = fmt.Errorf("%d events rejected, %d failed (statuses %v; %s)", rep.Rejected, rep.Failed, rep.Statuses, rep.FirstError)
			}
			fmt.Fprintf(cfg.Log, "bench:   %s batch %d: %.0f events/s p50 %s p99 %s\n", url, batch, rep.Rate(), rep.P50, rep.P99)
			return rep, err
		}
		pb, err := measure(pbURL)
		if err != nil {
			return rows, fmt.Errorf("provbus ingest: %w", err)
		}
		br, err := measure(bareURL)
		if err != nil {
			return rows, fmt.Errorf("bare handler: %w", err)
		}
		step := fmt.Sprintf("1. ingest, %d/request, 64 conns", batch)
		target := "≥ 0.9×, p99 ≤ 25 ms"
		if batch > 1 {
			target = "≥ 1.0×"
		}
		rows = append(rows,
			Row{Step: step, Metric: "events/s", Provbus: pb.Rate(), Baseline: br.Rate(), Unit: "ev/s", Target: target},
			Row{Step: step, Metric: "p50", Provbus: ms(pb.P50), Baseline: ms(br.P50), Unit: "ms", Lower: true},
			Row{Step: step, Metric: "p99", Provbus: ms(pb.P99), Baseline: ms(br.P99), Unit: "ms", Lower: true},
		)
	}
	return rows, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
