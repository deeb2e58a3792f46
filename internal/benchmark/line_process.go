package benchmark

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/processors/dispatch"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// parentType is the customer event the processing lines dispatch: it
// inherits to Account/BalanceChanged, and each of the two reaches one
// handler, so records out = events × (1 + fan-out).
const parentType = "Customer/BalanceChanged"

// procs runs provbus processors until stop is called.
type procs struct {
	cancel context.CancelFunc
	done   chan error
}

func startProcs(ctx context.Context, w Wiring, c *cluster, only ...string) *procs {
	ctx, cancel := context.WithCancel(ctx)
	p := &procs{cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- w.Process(ctx, c.brokers, c.regURL, only) }()
	return p
}

func (p *procs) stop() error {
	p.cancel()
	err := <-p.done
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// loadDirectory writes directory snapshots — customers accounts each —
// and waits until the directory has applied them all, so a line starts
// from a known membership state. Snapshots are what `provbus import
// directory` writes; the router does not read them, so they add no work to
// the measured step.
func loadDirectory(ctx context.Context, c *cluster, customers, perCustomer int, firstCustomer int64) error {
	const chunk = 20_000
	rs := make([]*kgo.Record, 0, chunk)
	acc := firstCustomer * 1_000_000
	for cu := 0; cu < customers; cu++ {
		customer := firstCustomer + int64(cu)
		for a := 0; a < perCustomer; a++ {
			acc++
			product := int64(7)
			v, _ := json.Marshal(directory.Snapshot{Account: acc, Customer: &customer, Product: &product})
			rs = append(rs, &kgo.Record{Topic: directory.TopicSnapshot, Key: []byte(itoa(acc)), Value: v})
			if len(rs) == chunk {
				if err := c.cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
					return err
				}
				rs = rs[:0]
			}
		}
	}
	if err := c.cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		return err
	}
	return c.waitCommitted(ctx, directory.Group, directory.TopicSnapshot, 5*time.Minute)
}

func customerEvent(id string, customer int64) *schemas.Event {
	now := time.Now().UTC()
	return &schemas.Event{EventID: id, Source: "portabilling", EventType: parentType, Origin: schemas.OriginDirect,
		ICustomer: i64(customer), IEnv: i64(1), OccurredAt: now, ReceivedAt: now,
		Attributes: map[string]string{"i_customer": itoa(customer), "balance": "120.50", "currency": "EUR", "i_env": "1"},
		Payload:    `{"event_type":"Customer/BalanceChanged","variables":{"i_customer":` + itoa(customer) + `,"balance":"120.50"}}`}
}

// expectedOut is how many handler records one parent event yields at a
// fan-out, from the catalog (so the count follows catalog changes).
func expectedOut(cat *topology.Catalog, fan int) int64 {
	n := int64(len(cat.Subscribers(parentType, topology.OriginDirect)))
	for _, r := range cat.InheritedFrom(parentType) {
		n += int64(fan * len(cat.Subscribers(r.To, topology.OriginInherited)))
	}
	return n
}

// lineProcessing pre-loads a backlog of customer events and times dispatch
// + route through it, at fan-out 1 and 10, against the bare two-stage
// loop over the same number of events.
func lineProcessing(ctx context.Context, cfg Config, w Wiring) ([]Row, error) {
	var rows []Row
	for _, fan := range []int{1, 10} {
		events := cfg.Backlog
		if fan > 1 {
			events = cfg.Backlog / 6
		}
		pb, pbSteady, err := processOnce(ctx, cfg, w, fan, events)
		if err != nil {
			return rows, fmt.Errorf("provbus fan-out %d: %w", fan, err)
		}
		bare, bareSteady, err := bareOnce(ctx, cfg, fan, events)
		if err != nil {
			return rows, fmt.Errorf("baseline fan-out %d: %w", fan, err)
		}
		step := fmt.Sprintf("2. dispatch+route, fan-out %d, %d events", fan, events)
		inTarget, outTarget := "≥ 100k/s, ≥ 0.65×", ""
		if fan > 1 {
			inTarget, outTarget = "", "≥ 400k/s"
		}
		rows = append(rows,
			Row{Step: step, Metric: "events in/s", Provbus: float64(events) / pb.Seconds(), Baseline: float64(events) / bare.Seconds(), Unit: "ev/s", Target: inTarget},
			Row{Step: step, Metric: "records out/s", Provbus: float64(int64(events)*expectedOut(cfg.Catalog, fan)) / pb.Seconds(),
				Baseline: float64(events*fan) / bare.Seconds(), Unit: "rec/s", Target: outTarget,
				Note: "baseline writes fan-out records per event, provbus also routes the parent"},
			// The rows above time from the processors' start: group join,
			// state restore and the first commit are what an operator
			// waits for on every restart. This one leaves them out, so
			// the per-record cost and the startup cost read apart.
			Row{Step: step, Metric: "events in/s, first → last output", Provbus: float64(events) / pbSteady.Seconds(),
				Baseline: float64(events) / bareSteady.Seconds(), Unit: "ev/s",
				Note: fmt.Sprintf("startup (start → first output): provbus %s, baseline %s",
					(pb - pbSteady).Round(time.Millisecond), (bare - bareSteady).Round(time.Millisecond))},
		)
	}
	return rows, nil
}

// processOnce times dispatch + route over a backlog of events customer
// events spread over 2 000 customers of fan accounts each: from the
// processors' start to the last output, and from the first output to the
// last (steady).
func processOnce(ctx context.Context, cfg Config, w Wiring, fan, events int) (total, steady time.Duration, err error) {
	c, err := startCluster(ctx, cfg.Catalog, cfg.Partitions)
	if err != nil {
		return 0, 0, err
	}
	defer c.close()
	dir := startProcs(ctx, w, c, "directory")
	defer dir.stop()
	const customers = 2000
	if err := loadDirectory(ctx, c, customers, fan, 1); err != nil {
		return 0, 0, err
	}
	if err := c.produce(ctx, dispatch.TopicCustomer, events, func(i int) string { return itoa(int64(1 + i%customers)) },
		func(i int) *schemas.Event { return customerEvent(fmt.Sprintf("bl-%d", i), int64(1+i%customers)) }); err != nil {
		return 0, 0, err
	}
	// The dispatcher waits for the directory's watermark to pass each
	// event; an idle directory moves it once a second.
	time.Sleep(1500 * time.Millisecond)
	k, err := c.count(ctx, cfg.Catalog.HandlerTopics()...)
	if err != nil {
		return 0, 0, err
	}
	defer k.close()
	start := time.Now()
	p := startProcs(ctx, w, c, "dispatch", "route")
	defer p.stop()
	end, err := k.wait(ctx, int64(events)*expectedOut(cfg.Catalog, fan), 3*time.Minute)
	if err != nil {
		return 0, 0, err
	}
	return end.Sub(start), end.Sub(k.firstAt()), nil
}

// bareOnce times the two-stage baseline over the same backlog, like
// processOnce.
func bareOnce(ctx context.Context, cfg Config, fan, events int) (total, steady time.Duration, err error) {
	c, err := startCluster(ctx, cfg.Catalog, cfg.Partitions)
	if err != nil {
		return 0, 0, err
	}
	defer c.close()
	in, mid, out := "bench.in", "bench.mid", "bench.out"
	if err := c.createAvroTopics(ctx, int32(cfg.Partitions), in, mid, out); err != nil {
		return 0, 0, err
	}
	if err := c.produce(ctx, in, events, func(i int) string { return itoa(int64(1 + i%2000)) },
		func(i int) *schemas.Event {
			ev := customerEvent(fmt.Sprintf("bl-%d", i), int64(1+i%2000))
			ev.IAccount = i64(int64(i))
			return ev
		}); err != nil {
		return 0, 0, err
	}
	k, err := c.count(ctx, out)
	if err != nil {
		return 0, 0, err
	}
	defer k.close()
	start := time.Now()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	runBare(rctx, c, in, mid, out, fan, errc)
	end, err := k.wait(ctx, int64(events*fan), 3*time.Minute)
	select {
	case e := <-errc:
		return 0, 0, e
	default:
	}
	if err != nil {
		return 0, 0, err
	}
	return end.Sub(start), end.Sub(k.firstAt()), nil
}
