package benchmark

import (
	"context"
	"fmt"
	"time"

	"github.com/provbus/provbus/processors/dispatch"
	"github.com/provbus/provbus/schemas"
)

// lineFanOut times one customer event of a customer with cfg.FanOut
// accounts from its produce until every inherited event is in the handler
// topics, with the processors already running and idle (the directory's
// watermark wait included: it is part of what a user waits for).
func lineFanOut(ctx context.Context, cfg Config, w Wiring) ([]Row, error) {
	pb, err := fanOutOnce(ctx, cfg, w)
	if err != nil {
		return nil, err
	}
	bare, err := bareFanOutOnce(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	return []Row{{Step: fmt.Sprintf("3. fan-out, 1 customer × %d accounts", cfg.FanOut), Metric: "time to all in handler topics",
		Provbus: pb.Seconds(), Baseline: bare.Seconds(), Unit: "s", Lower: true, Target: "≤ 2 s"}}, nil
}

func fanOutOnce(ctx context.Context, cfg Config, w Wiring) (time.Duration, error) {
	c, err := startCluster(ctx, cfg.Catalog, cfg.Partitions)
	if err != nil {
		return 0, err
	}
	defer c.close()
	dir := startProcs(ctx, w, c, "directory")
	defer dir.stop()
	if err := loadDirectory(ctx, c, 1, cfg.FanOut, 1); err != nil {
		return 0, err
	}
	k, err := c.count(ctx, cfg.Catalog.HandlerTopics()...)
	if err != nil {
		return 0, err
	}
	defer k.close()
	p := startProcs(ctx, w, c, "dispatch", "route")
	defer p.stop()
	// Warm up: an event of a customer without accounts goes through both
	// processors, so they have joined their groups before the clock
	// starts.
	warm := expectedOut(cfg.Catalog, 0)
	if err := c.produce(ctx, dispatch.TopicCustomer, 1, func(int) string { return "2" },
		func(int) *schemas.Event { return customerEvent("warm-up", 2) }); err != nil {
		return 0, err
	}
	if _, err := k.wait(ctx, warm, time.Minute); err != nil {
		return 0, fmt.Errorf("warm-up: %w", err)
	}
	start := time.Now()
	if err := c.produce(ctx, dispatch.TopicCustomer, 1, func(int) string { return "1" },
		func(int) *schemas.Event { return customerEvent("big", 1) }); err != nil {
		return 0, err
	}
	end, err := k.wait(ctx, warm+expectedOut(cfg.Catalog, cfg.FanOut), 2*time.Minute)
	if err != nil {
		return 0, err
	}
	return end.Sub(start), nil
}

func bareFanOutOnce(ctx context.Context, cfg Config) (time.Duration, error) {
	c, err := startCluster(ctx, cfg.Catalog, cfg.Partitions)
	if err != nil {
		return 0, err
	}
	defer c.close()
	in, mid, out := "bench.in", "bench.mid", "bench.out"
	if err := c.createAvroTopics(ctx, int32(cfg.Partitions), in, mid, out); err != nil {
		return 0, err
	}
	k, err := c.count(ctx, out)
	if err != nil {
		return 0, err
	}
	defer k.close()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	runBare(rctx, c, in, mid, out, cfg.FanOut, errc)
	// The same warm-up: one record through both stages at fan-out 1 is
	// not possible with one fan, so wait for the groups to settle.
	ev := func(id string, acc int64) func(int) *schemas.Event {
		return func(int) *schemas.Event { e := customerEvent(id, 1); e.IAccount = i64(acc); return e }
	}
	if err := c.produce(ctx, in, 1, func(int) string { return "1" }, ev("warm-up", 1)); err != nil {
		return 0, err
	}
	if _, err := k.wait(ctx, int64(cfg.FanOut), time.Minute); err != nil {
		return 0, fmt.Errorf("warm-up: %w", err)
	}
	start := time.Now()
	if err := c.produce(ctx, in, 1, func(int) string { return "1" }, ev("big", 2)); err != nil {
		return 0, err
	}
	end, err := k.wait(ctx, int64(2*cfg.FanOut), 2*time.Minute)
	select {
	case e := <-errc:
		return 0, e
	default:
	}
	if err != nil {
		return 0, err
	}
	return end.Sub(start), nil
}
