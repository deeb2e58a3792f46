package benchmark

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/simulate"
	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/schemas"
)

// latencies reads topics read_committed, decodes each record and keeps
// now − received_at (the ingest's receive time) for events received after
// from: webhook → visible to a downstream consumer. DIRECT and INHERITED
// records are kept apart: an inherited event also waits for the
// directory's watermark, by design, so one distribution of both says
// little about either.
type latencies struct {
	cl        *kgo.Client
	mu        sync.Mutex
	direct    []uint32 // microseconds
	inherited []uint32
	done      chan struct{}
}

func (c *cluster) latencies(ctx context.Context, from time.Time, topics ...string) (*latencies, error) {
	cl, err := c.dial(kgo.ConsumeTopics(topics...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.FetchMaxWait(20*time.Millisecond))
	if err != nil {
		return nil, err
	}
	l := &latencies{cl: cl, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		var ev schemas.Event
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			if fs.IsClientClosed() {
				return
			}
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				if _, err := c.codec.Decode(ctx, r.Value, &ev); err != nil || ev.ReceivedAt.Before(from) {
					return
				}
				us := uint32(max(now.Sub(ev.ReceivedAt).Microseconds(), 0))
				l.mu.Lock()
				if ev.Origin == schemas.OriginInherited {
					l.inherited = append(l.inherited, us)
				} else {
					l.direct = append(l.direct, us)
				}
				l.mu.Unlock()
			})
		}
	}()
	return l, nil
}

// latency is one distribution's summary.
type latency struct {
	p50, p99, max time.Duration
	n             int
}

func summarize(samples []uint32) latency {
	slices.Sort(samples)
	return latency{simulate.Percentile(samples, 0.5), simulate.Percentile(samples, 0.99), simulate.Percentile(samples, 1), len(samples)}
}

func (l *latencies) result() (direct, inherited latency) {
	l.cl.Close()
	<-l.done
	return summarize(l.direct), summarize(l.inherited)
}

// latencyBatch is how many ESPF events go in one request on the
// end-to-end line. At one per request the ingest, sharing two cores with
// the processors, could not take 10 000 events/s and the line measured a
// backlog; ESPF sends arrays, so the line drives it that way and the
// pipeline behind the ingest is what is measured. Transatel and JeraSoft
// still send one event per request, as they do.
const latencyBatch = 20

// lineLatency sends the realistic mix at cfg.LatencyRate through the whole
// pipeline and measures webhook → handler topic (read_committed); the
// baseline is the bare handler feeding one bare copy stage.
func lineLatency(ctx context.Context, cfg Config, w Wiring) ([]Row, error) {
	pbDirect, pbInherited, err := latencyOnce(ctx, cfg, w, false)
	if err != nil {
		return nil, err
	}
	bare, _, err := latencyOnce(ctx, cfg, w, true)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	step := fmt.Sprintf("4. webhook → handler topic at %.0f ev/s, ESPF %d/request", cfg.LatencyRate, latencyBatch)
	rows := []Row{
		{Step: step, Metric: "DIRECT p50", Provbus: ms(pbDirect.p50), Baseline: ms(bare.p50), Unit: "ms", Lower: true,
			Note: fmt.Sprintf("%d direct handler records sampled", pbDirect.n)},
		{Step: step, Metric: "DIRECT p99", Provbus: ms(pbDirect.p99), Baseline: ms(bare.p99), Unit: "ms", Lower: true, Target: "≤ 50 ms"},
	}
	if pbInherited.n > 0 {
		note := fmt.Sprintf("%d inherited records; they wait for the directory watermark by design (skew %s, idle heartbeat %s, the runner's tick); baseline: the bare copy loop, which has no inheritance",
			pbInherited.n, directory.DefaultSkew, directory.IdleHeartbeat)
		rows = append(rows,
			Row{Step: step, Metric: "INHERITED p50", Provbus: ms(pbInherited.p50), Baseline: ms(bare.p50), Unit: "ms", Lower: true, Note: note},
			Row{Step: step, Metric: "INHERITED p99", Provbus: ms(pbInherited.p99), Baseline: ms(bare.p99), Unit: "ms", Lower: true},
		)
	}
	return rows, nil
}

func latencyOnce(ctx context.Context, cfg Config, w Wiring, bare bool) (direct, inherited latency, err error) {
	p, err := startE2E(ctx, cfg, w, bare)
	if err != nil {
		return latency{}, latency{}, err
	}
	defer p.close()
	url, stop, err := serve(p.h)
	if err != nil {
		return latency{}, latency{}, err
	}
	defer stop()
	var l *latencies
	err = drive(ctx, cfg, url, cfg.LatencyRate, cfg.LatencyDuration, 400, func() (err error) {
		l, err = p.c.latencies(ctx, time.Now(), p.out...)
		return err
	})
	if err == nil {
		time.Sleep(2 * time.Second) // let the tail of the run arrive
	}
	if l != nil {
		direct, inherited = l.result()
	}
	if err != nil {
		return latency{}, latency{}, err
	}
	if direct.n == 0 {
		return latency{}, latency{}, errors.New("no record reached the output topics")
	}
	return direct, inherited, nil
}

// e2e is one side of an end-to-end line on its own fresh cluster: provbus's
// ingest and every processor, as provbus dev runs them, or the bare
// baseline, the bare handler feeding one bare copy stage. out are the
// topics a downstream consumer of that side reads.
type e2e struct {
	c     *cluster
	h     http.Handler
	out   []string
	stops []func() // run last to first by close
}

func startE2E(ctx context.Context, cfg Config, w Wiring, bare bool) (_ *e2e, err error) {
	c, err := startCluster(ctx, cfg.Catalog, cfg.Partitions)
	if err != nil {
		return nil, err
	}
	p := &e2e{c: c}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if !bare {
		ih, closeIngest, err := w.Ingest(ctx, c.brokers, c.regURL)
		if err != nil {
			return nil, err
		}
		procs := startProcs(ctx, w, c)
		p.stops = append(p.stops, closeIngest, func() { _ = procs.stop() })
		p.h, p.out = ih, cfg.Catalog.HandlerTopics()
		return p, nil
	}
	if err := c.createAvroTopics(ctx, int32(cfg.Partitions), "bench.a", "bench.b"); err != nil {
		return nil, err
	}
	bh, err := newBareHandler(c, "bench.a")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /v1/sources/{source}/events", bh)
	rctx, cancel := context.WithCancel(ctx)
	go func() { _ = bareStage(rctx, c, "bare-1", "bench.a", "bench.b", 1) }()
	p.stops = append(p.stops, bh.close, cancel)
	p.h, p.out = mux, []string{"bench.b"}
	return p, nil
}

func (p *e2e) close() {
	for i := len(p.stops) - 1; i >= 0; i-- {
		p.stops[i]()
	}
	p.c.close()
}

// drive sends the realistic mix to the ingest at url: a warm-up at a tenth
// of rate, which lets every group join and the directory publish its first
// watermarks, then measure (the line starts its clocks), then rate for d.
// seed is the warm-up's sequence, seed+1 the measured one.
func drive(ctx context.Context, cfg Config, url string, rate float64, d time.Duration, seed uint64, measure func() error) error {
	if _, err := simulate.Run(ctx, simulate.New(simulate.Config{Seed: seed}),
		simulate.Options{URL: url, Rate: rate / 10, Duration: 4 * time.Second, Batch: latencyBatch, Connections: 64}); err != nil {
		return err
	}
	if err := measure(); err != nil {
		return err
	}
	rep, err := simulate.Run(ctx, simulate.New(simulate.Config{Seed: seed + 1}),
		simulate.Options{URL: url, Rate: rate, Duration: d, Batch: latencyBatch, Connections: 64})
	if err != nil {
		return err
	}
	fmt.Fprintf(cfg.Log, "bench:   sent %.0f events/s (%d rejected, %d failed), HTTP p99 %s\n", rep.Rate(), rep.Rejected, rep.Failed, rep.P99)
	return nil
}
