package deliver

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/provbus/provbus/deliver/enrich"
	"github.com/provbus/provbus/deliver/order"
	"github.com/provbus/provbus/deliver/state"
	"github.com/provbus/provbus/deliver/target"
	"github.com/provbus/provbus/deliver/webhook"
	"github.com/provbus/provbus/internal/metrics"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

const (
	// commitEvery bounds how often offsets are committed: the outcomes of
	// one such interval, with the attempts in flight, are what a crash
	// makes the next owner send again.
	commitEvery = 100 * time.Millisecond
	// pollRecords is the most records one poll hands to the loop.
	pollRecords = 1000
	// maxCommitGap is how far (in offsets) an entry that is not final may
	// hold its partition's commit point behind the fetch position before
	// it is written to the state topic (order.Scheduler.Holdouts).
	maxCommitGap = 16
	// gaugeEvery is how often the pending and oldest-age gauges are
	// recomputed (they walk every waiting entry).
	gaugeEvery = time.Second
)

// sendQueue is how many due events wait for a sender. The loop hands out
// up to MaxInFlight + sendQueue due events (distinct keys, as always):
// MaxInFlight senders bound the requests at once, and the rest wait in the
// work channel, so a sender whose request ended starts the next at once
// instead of idling until the loop, one goroutine among many on the
// machine's cores, has taken its result and dispatched again (BENCHMARKS.md,
// "Session 4: third throughput pass"). A pause, a breaker that opens and a revocation
// take the waiting ones back unsent (reclaim).
func sendQueue(h Handler) int { return max(1, h.MaxInFlight) }

// handlerRun is one handler's delivery loop. Everything below "owned by
// the loop" is touched by the loop goroutine only; the fetch, send,
// control and produce goroutines talk to it through channels.
type handlerRun struct {
	o   Options
	h   Handler
	log *zap.Logger
	m   *metrics.Deliver

	topic, stateTopic, failedTopic, controlTopic, deliveriesTopic, dlqTopic string
	group                                                                   string

	cl *kgo.Client // the group member, and the producer of every write
	// accounts is the entity state put in each body, state its callback
	// for webhook.AvroBody; both nil when the handler's include_state is
	// off.
	accounts *enrich.Table
	state    func([]byte, webhook.Summary) []byte
	// bodies are the webhook.AvroBody of each writer schema id seen (a nil
	// one: records of that schema are decoded).
	bodies sync.Map
	tgt    *target.Target
	brk    *target.Breaker

	batches chan []*kgo.Record
	fetchOK chan struct{}
	// work feeds the MaxInFlight senders, and holds up to sendQueue more
	// (see dispatch).
	work    chan job
	results chan result
	calls   chan func()

	ackMu  sync.Mutex
	acked  []*order.Entry
	ackSig chan struct{}
	fatal  chan error
	// loopDone is closed when the loop stopped: a callback that arrives
	// later (franz-go's revoke at Close) finds nobody to run it.
	loopDone chan struct{}

	// owned by the loop
	sched      *order.Scheduler
	owned      map[int32]bool
	wantFetch  bool
	lastCommit time.Time
	lastGauges time.Time
	ops        map[string]opRequest // operator requests not yet applied, by control key
	due        []*order.Entry       // step's reused buffer for the due entries
	// probe is the half-open breaker's probe until its result is in.
	probe *order.Entry
	// delivery is finish's history record, reused: encoded before the next.
	delivery schemas.Delivery
	sendCtx  context.Context
}

func runHandler(ctx context.Context, o Options, h Handler, accounts *enrich.Table) error {
	ns := o.Namespace
	r := &handlerRun{
		o: o, h: h, log: o.Log.With(zap.String("handler", h.Name)), m: o.Metrics.Deliver(h.Name),
		topic:      ns.Topic(topology.HandlerTopic(h.Name)),
		stateTopic: ns.Topic(topology.TopicDeliverState), failedTopic: ns.Topic(topology.TopicDeliverFailed),
		controlTopic: ns.Topic(topology.TopicDeliverControl), deliveriesTopic: ns.Topic(topology.TopicDeliveries),
		dlqTopic: ns.Topic(topology.TopicDLQ),
		group:    string(ns) + topology.DeliverGroup(h.Name),
		tgt:      target.New(h.Target), brk: target.NewBreaker(),
		batches: make(chan []*kgo.Record), fetchOK: make(chan struct{}, 1),
		work:    make(chan job, sendQueue(h)),
		results: make(chan result, max(1, h.MaxInFlight)+sendQueue(h)), calls: make(chan func()),
		ackSig: make(chan struct{}, 1), fatal: make(chan error, 1), loopDone: make(chan struct{}),
		sched: order.New(max(1, h.MaxInFlight) + sendQueue(h)), owned: map[int32]bool{}, ops: map[string]opRequest{},
		accounts: accounts,
	}
	if accounts != nil {
		r.state = r.appendState
	}
	// The pause flag and pending requests are read before anything is
	// fetched: a paused handler sends nothing, even right after a start.
	ctlEnd, err := state.ReadToEnd(ctx, o.Kafka, r.controlTopic, nil, r.applyControl)
	if err != nil {
		return err
	}
	opts := append(append([]kgo.Opt(nil), o.Kafka...),
		kgo.ConsumerGroup(r.group),
		kgo.ConsumeTopics(r.topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.OnPartitionsAssigned(func(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
			r.do(ctx, func() { r.assign(ctx, m[r.topic]) })
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
			r.do(ctx, func() { r.revoke(ctx, m[r.topic], true) })
		}),
		kgo.OnPartitionsLost(func(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
			r.do(ctx, func() { r.revoke(ctx, m[r.topic], false) })
		}),
	)
	r.cl, err = kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer r.cl.Close()
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	r.sendCtx = sendCtx
	for range max(1, h.MaxInFlight) {
		go r.sender()
	}

	loopCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.fetch(loopCtx) }()
	go func() { defer wg.Done(); r.tailControl(loopCtx, ctlEnd) }()
	r.fetchOK <- struct{}{}
	err = r.loop(loopCtx)
	close(r.loopDone)
	cancelSends()
	r.shutdown()
	stop()
	wg.Wait()
	return err
}

// do runs fn on the loop goroutine and waits for it (or for ctx).
func (r *handlerRun) do(ctx context.Context, fn func()) {
	done := make(chan struct{})
	select {
	case r.calls <- func() { fn(); close(done) }:
	case <-ctx.Done():
		return
	case <-r.loopDone:
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// fetch polls the handler topic and hands each batch to the loop, one at a
// time: the loop grants the next poll only while the records it holds
// that are neither final nor durable stay under a bound.
func (r *handlerRun) fetch(ctx context.Context) {
	for {
		select {
		case <-r.fetchOK:
		case <-ctx.Done():
			return
		}
		fs := r.cl.PollRecords(ctx, pollRecords)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			r.log.Warn("fetch", zap.String("topic", t), zap.Int32("partition", p), zap.Error(err))
		})
		select {
		case r.batches <- fs.Records():
		case <-ctx.Done():
			return
		}
	}
}

// unackedBound is how many fetched records may be neither final nor
// durable before fetching stops: a crash re-sends at most these.
func (r *handlerRun) unackedBound() int { return 4*r.h.MaxInFlight + pollRecords }

func (r *handlerRun) loop(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wake := r.step(time.Now())
		timer.Reset(time.Until(wake))
		select {
		case <-ctx.Done():
			return nil
		case err := <-r.fatal:
			return err
		case recs := <-r.batches:
			r.add(recs)
		case res := <-r.results:
			r.finish(res)
			r.finishReady()
		case <-r.ackSig:
			r.drainAcks()
		case fn := <-r.calls:
			fn()
		case <-timer.C:
		}
	}
}

// step sends what is due, commits, re-opens fetching, and returns when it
// wants to run again at the latest.
func (r *handlerRun) step(now time.Time) time.Time {
	wake := now.Add(time.Second)
	sending := !r.sched.Paused()
	if !sending {
		r.reclaim() // paused: nothing more goes out but what is in flight
	}
	if ok, until := r.brk.Allow(now); !sending {
		if ok {
			r.brk.CancelProbe()
		}
	} else if ok {
		limit := 0
		if r.brk.Open() {
			limit = 1 // the probe
		}
		due := r.sched.AppendDue(r.due[:0], now, limit)
		for _, e := range due {
			r.dispatch(e)
		}
		switch {
		case limit == 1 && len(due) == 0:
			r.brk.CancelProbe() // nothing to probe with yet
		case limit == 1:
			r.probe = due[0]
		}
		clear(due) // the entries are the scheduler's, not the buffer's
		r.due = due[:0]
	} else {
		sending = false
		if !until.IsZero() && until.Before(wake) {
			wake = until
		}
	}
	// Waiting heads matter only while sending: paused or behind an open
	// breaker, their (past) due times would spin the loop.
	if w := r.sched.NextWake(); sending && !w.IsZero() && w.Before(wake) {
		wake = w
	}
	if now.Sub(r.lastCommit) >= commitEvery {
		if h := r.sched.Holdouts(maxCommitGap); len(h) > 0 {
			r.writeState(h, false)
		}
		r.commit(context.Background())
		r.lastCommit = now
	} else if c := r.lastCommit.Add(commitEvery); c.Before(wake) {
		wake = c
	}
	// The gauges ride on the step rather than on a ticker of their own:
	// every channel in the loop's select, a timer's most of all, costs on
	// every wait. The commit interval wakes the loop often enough.
	if now.Sub(r.lastGauges) >= gaugeEvery {
		r.updateGauges()
		r.lastGauges = now
	}
	if r.wantFetch && r.sched.Unacked() < r.unackedBound() {
		r.wantFetch = false
		r.fetchOK <- struct{}{}
	}
	if floor := now.Add(time.Millisecond); wake.Before(floor) {
		wake = floor
	}
	return wake
}

// finishReady applies the results already waiting, at most one per
// sender, so that one step (the scheduler's walk, the timer) serves them
// all rather than one each.
func (r *handlerRun) finishReady() {
	for range cap(r.results) {
		select {
		case res := <-r.results:
			r.finish(res)
		default:
			return
		}
	}
}

// dispatch hands e to an idle sender. The scheduler bounds what is in
// flight, but frees the slots of a revoked partition's attempts before they
// end, so the senders may all be busy: then e gets a goroutine of its own,
// and the loop never blocks here (a sender blocked on results would wait
// for the loop).
func (r *handlerRun) dispatch(e *order.Entry) {
	j := job{e, e.Attempt} // read here: e belongs to the loop
	select {
	case r.work <- j:
	default:
		go func() {
			s := r.tgt.NewSender(r.sendCtx)
			defer s.Close()
			r.send(s, new(schemas.Event), j.e, j.attempt)
		}()
	}
}

// reclaim takes back the events waiting in the work channel for a sender:
// they were never sent. A probe taken back is given back to the breaker,
// which would otherwise wait for its result for ever.
func (r *handlerRun) reclaim() {
	for {
		select {
		case j := <-r.work:
			r.sched.Unsend(j.e)
			if j.e == r.probe {
				r.probe = nil
				r.brk.CancelProbe()
			}
		default:
			return
		}
	}
}

// job is one attempt handed to a sender.
type job struct {
	e       *order.Entry
	attempt int
}

// sender sends what dispatch hands it until the sends are cancelled. Long
// lived senders keep their grown stacks (a goroutine per request cost a
// stack copy and a spawn each time), the event they decode into, and their
// target.Sender: a request, headers and timer reused, and a context of
// their own, so the contexts of the requests hang off it rather than all
// off sendCtx, whose lock they would contend on.
func (r *handlerRun) sender() {
	s := r.tgt.NewSender(r.sendCtx)
	defer s.Close()
	ev := new(schemas.Event)
	for {
		select {
		case j := <-r.work:
			r.send(s, ev, j.e, j.attempt)
		case <-r.sendCtx.Done():
			return
		}
	}
}

// add hands fetched records to the scheduler, in partition order.
func (r *handlerRun) add(recs []*kgo.Record) {
	for _, rec := range recs {
		if !r.owned[rec.Partition] {
			continue // fetched before its partition was revoked
		}
		e := &order.Entry{Partition: rec.Partition, Offset: rec.Offset, Key: string(rec.Key), Value: rec.Value}
		if _, writes := r.sched.Add(e); len(writes) > 0 {
			r.writeState(writes, false)
		}
	}
	r.wantFetch = true
}

// commit commits the scheduler's commit points of the owned partitions,
// synchronously. The loop commits every commitEvery at most.
func (r *handlerRun) commit(ctx context.Context) {
	c := r.sched.Commits()
	if len(c) == 0 {
		return
	}
	offs := map[int32]kgo.EpochOffset{}
	for p, o := range c {
		if r.owned[p] {
			offs[p] = kgo.EpochOffset{Epoch: -1, Offset: o}
		}
	}
	if len(offs) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	r.cl.CommitOffsetsSync(cctx, map[string]map[int32]kgo.EpochOffset{r.topic: offs}, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err == nil {
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if p.ErrorCode != 0 {
						err = fmt.Errorf("partition %d: error code %d", p.Partition, p.ErrorCode)
					}
				}
			}
		}
		if err != nil {
			// Not fatal: the next commit carries the same or later
			// offsets; until then a crash re-sends a little more.
			r.log.Warn("commit", zap.Error(err))
		}
	})
}
