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

	"github.com/provbus/provbus/internal/cputime"
	"github.com/provbus/provbus/internal/simulate"
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
	// cpuPer1k is the process's CPU time per 1 000 events sent in the
	// measured window (pipeline, broker and load generator alike).
	cpuPer1k time.Duration
}

func summarize(samples []uint32) latency {
	slices.Sort(samples)
	return latency{p50: simulate.Percentile(samples, 0.5), p99: simulate.Percentile(samples, 0.99), max: simulate.Percentile(samples, 1), n: len(samples)}
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
// pipeline and measures webhook → handler topic (read_committed), DIRECT
// and INHERITED records apart; then the same rate of direct events only,
// so that direct latency reads apart from the fan-out load. The baseline
// is the bare handler feeding one bare copy stage.
func lineLatency(ctx context.Context, cfg Config, w Wiring) ([]Row, error) {
	pbDirect, pbInherited, err := latencyOnce(ctx, cfg, w, false, false)
	if err != nil {
		return nil, err
	}
	onlyDirect, _, err := latencyOnce(ctx, cfg, w, false, true)
	if err != nil {
		return nil, fmt.Errorf("direct-only mix: %w", err)
	}
	bare, _, err := latencyOnce(ctx, cfg, w, true, false)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	step := fmt.Sprintf("4. webhook → handler topic at %.0f ev/s, ESPF %d/request", cfg.LatencyRate, latencyBatch)
	rows := latencyRows(step, "DIRECT", pbDirect, bare, "≤ 50 ms",
		fmt.Sprintf("%d direct handler records sampled; from received_at (before the 2xx) to readable under read_committed", pbDirect.n))
	if pbInherited.n > 0 {
		rows = append(rows, latencyRows(step, "INHERITED", pbInherited, bare, "≤ 150 ms",
			fmt.Sprintf("%d inherited records; baseline: the bare copy loop, which has no inheritance", pbInherited.n))...)
	}
	rows = append(rows, Row{Step: step, Metric: "CPU per 1 000 events", Provbus: ms(pbDirect.cpuPer1k), Baseline: ms(bare.cpuPer1k),
		Unit: "ms", Lower: true, Note: "CPU time of the whole process (pipeline, embedded broker, load generator) from the measured window's start until the pipeline drained (+1 s), per 1 000 events sent; the baseline chain is the bare handler and one bare copy stage"})
	stepDirect := "4. same, direct events only (no customer or product changes)"
	rows = append(rows, latencyRows(stepDirect, "DIRECT", onlyDirect, bare, "≤ 50 ms",
		fmt.Sprintf("%d direct handler records sampled", onlyDirect.n))...)
	return rows, nil
}

// latencyRows are the p50, p99 and max rows of one distribution.
func latencyRows(step, kind string, pb, bare latency, target, note string) []Row {
	return []Row{
		{Step: step, Metric: kind + " p50", Provbus: ms(pb.p50), Baseline: ms(bare.p50), Unit: "ms", Lower: true, Note: note},
		{Step: step, Metric: kind + " p99", Provbus: ms(pb.p99), Baseline: ms(bare.p99), Unit: "ms", Lower: true, Target: target},
		{Step: step, Metric: kind + " max", Provbus: ms(pb.max), Baseline: ms(bare.max), Unit: "ms", Lower: true},
	}
}

func latencyOnce(ctx context.Context, cfg Config, w Wiring, bare, directOnly bool) (direct, inherited latency, err error) {
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
	var (
		l   *latencies
		cpu time.Duration
	)
	rep, err := drive(ctx, cfg, url, cfg.LatencyRate, cfg.LatencyDuration, simulate.Config{Seed: 400, DirectOnly: directOnly}, func() (err error) {
		cpu = cputime.Process()
		l, err = p.c.latencies(ctx, time.Now(), p.out...)
		return err
	})
	if err == nil {
		// Every record the run caused is in the handler topics once the
		// pipeline has drained (a positive condition, not "it went
		// quiet"); the sampling consumer (20 ms fetch wait) then gets a
		// second to read the last of them.
		err = p.c.waitDrained(ctx, time.Minute)
		time.Sleep(time.Second)
	}
	cpu = cputime.Process() - cpu
	if l != nil {
		direct, inherited = l.result()
	}
	if err != nil {
		return latency{}, latency{}, err
	}
	if direct.n == 0 {
		return latency{}, latency{}, errors.New("no record reached the output topics")
	}
	if rep.Sent > 0 {
		direct.cpuPer1k = cpu * 1000 / time.Duration(rep.Sent)
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

// drive sends the generator's mix to the ingest at url: a warm-up at a
// tenth of rate, which lets every group join and the directory publish its
// first watermarks, then measure (the line starts its clocks), then rate
// for d. gen.Seed is the warm-up's sequence, gen.Seed+1 the measured one.
func drive(ctx context.Context, cfg Config, url string, rate float64, d time.Duration, gen simulate.Config, measure func() error) (simulate.Report, error) {
	if _, err := simulate.Run(ctx, simulate.New(gen),
		simulate.Options{URL: url, Rate: rate / 10, Duration: 4 * time.Second, Batch: latencyBatch, Connections: 64}); err != nil {
		return simulate.Report{}, err
	}
	if err := measure(); err != nil {
		return simulate.Report{}, err
	}
	gen.Seed++
	rep, err := simulate.Run(ctx, simulate.New(gen),
		simulate.Options{URL: url, Rate: rate, Duration: d, Batch: latencyBatch, Connections: 64})
	if err != nil {
		return rep, err
	}
	fmt.Fprintf(cfg.Log, "bench:   sent %.0f events/s (%d rejected, %d failed), HTTP p99 %s\n", rep.Rate(), rep.Rejected, rep.Failed, rep.P99)
	return rep, nil
}
