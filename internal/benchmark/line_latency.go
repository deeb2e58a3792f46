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
	"github.com/provbus/provbus/schemas"
)

// latencies reads topics read_committed, decodes each record and keeps
// now − received_at (the ingest's receive time) for events received after
// from: webhook → visible to a downstream consumer.
type latencies struct {
	cl      *kgo.Client
	mu      sync.Mutex
	samples []uint32 // microseconds
	done    chan struct{}
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
				d := now.Sub(ev.ReceivedAt)
				l.mu.Lock()
				l.samples = append(l.samples, uint32(max(d.Microseconds(), 0)))
				l.mu.Unlock()
			})
		}
	}()
	return l, nil
}

func (l *latencies) result() (p50, p99 time.Duration, n int) {
	l.cl.Close()
	<-l.done
	slices.Sort(l.samples)
	return simulate.Percentile(l.samples, 0.5), simulate.Percentile(l.samples, 0.99), len(l.samples)
}

// lineLatency sends the realistic mix at cfg.LatencyRate through the whole
// pipeline and measures webhook → handler topic (read_committed); the
// baseline is the bare handler feeding one bare copy stage.
func lineLatency(ctx context.Context, cfg Config, w Wiring) ([]Row, error) {
	pb50, pb99, pbN, err := latencyOnce(ctx, cfg, w, false)
	if err != nil {
		return nil, err
	}
	b50, b99, _, err := latencyOnce(ctx, cfg, w, true)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	step := fmt.Sprintf("4. webhook → handler topic at %.0f ev/s", cfg.LatencyRate)
	note := fmt.Sprintf("%d handler records sampled", pbN)
	return []Row{
		{Step: step, Metric: "p50", Provbus: ms(pb50), Baseline: ms(b50), Unit: "ms", Lower: true, Note: note},
		{Step: step, Metric: "p99", Provbus: ms(pb99), Baseline: ms(b99), Unit: "ms", Lower: true, Target: "≤ 50 ms"},
	}, nil
}

func latencyOnce(ctx context.Context, cfg Config, w Wiring, bare bool) (p50, p99 time.Duration, n int, err error) {
	c, err := startCluster(ctx, cfg.Catalog, cfg.Partitions)
	if err != nil {
		return 0, 0, 0, err
	}
	defer c.close()
	var h http.Handler
	topics := cfg.Catalog.HandlerTopics()
	if bare {
		if err := c.createAvroTopics(ctx, int32(cfg.Partitions), "bench.a", "bench.b"); err != nil {
			return 0, 0, 0, err
		}
		bh, err := newBareHandler(c, "bench.a")
		if err != nil {
			return 0, 0, 0, err
		}
		defer bh.close()
		mux := http.NewServeMux()
		mux.Handle("POST /v1/sources/{source}/events", bh)
		h = mux
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() { _ = bareStage(rctx, c, "bare-1", "bench.a", "bench.b", 1) }()
		topics = []string{"bench.b"}
	} else {
		ih, closeIngest, err := w.Ingest(ctx, c.brokers, c.regURL)
		if err != nil {
			return 0, 0, 0, err
		}
		defer closeIngest()
		h = ih
		p := startProcs(ctx, w, c)
		defer p.stop()
	}
	url, stop, err := serve(h)
	if err != nil {
		return 0, 0, 0, err
	}
	defer stop()
	// Warm-up at a tenth of the rate lets every group join and the
	// directory publish its first watermarks.
	if _, err := simulate.Run(ctx, simulate.New(simulate.Config{Seed: 400}),
		simulate.Options{URL: url, Rate: cfg.LatencyRate / 10, Duration: 4 * time.Second, Connections: 64}); err != nil {
		return 0, 0, 0, err
	}
	from := time.Now()
	l, err := c.latencies(ctx, from, topics...)
	if err != nil {
		return 0, 0, 0, err
	}
	rep, err := simulate.Run(ctx, simulate.New(simulate.Config{Seed: 401}),
		simulate.Options{URL: url, Rate: cfg.LatencyRate, Duration: cfg.LatencyDuration, Connections: 64})
	if err != nil {
		return 0, 0, 0, err
	}
	fmt.Fprintf(cfg.Log, "bench:   sent %.0f events/s (%d rejected, %d failed), HTTP p99 %s\n", rep.Rate(), rep.Rejected, rep.Failed, rep.P99)
	time.Sleep(2 * time.Second) // let the tail of the run arrive
	p50, p99, n = l.result()
	if n == 0 {
		return 0, 0, 0, errors.New("no record reached the output topics")
	}
	return p50, p99, n, nil
}
