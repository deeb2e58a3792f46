package deliver

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/provbus/provbus/deliver/order"
	"github.com/provbus/provbus/deliver/state"
	"github.com/provbus/provbus/schemas"
)

// controlWait bounds how long the control tail's fetch waits for new
// records, well under the 2 s a pause must take to reach every instance.
const controlWait = 250 * time.Millisecond

// applyControl applies one provbus.deliver.control record of this handler:
// a pause flag at once, an operator request once this instance owns the
// partition it is about.
func (r *handlerRun) applyControl(rec *kgo.Record) {
	k := string(rec.Key)
	switch {
	case k == state.PauseKey(r.h.Name):
		paused := false
		if rec.Value != nil {
			c, err := state.DecodeControl(rec.Value)
			if err != nil {
				r.log.Error("unreadable pause flag, ignored", zap.Error(err))
				return
			}
			paused = c.Paused
		}
		if paused != r.sched.Paused() {
			r.log.Info("pause flag", zap.Bool("paused", paused))
		}
		r.sched.SetPaused(paused)
		if paused {
			r.reclaim() // before the gauge says paused: nothing more goes out
		}
		r.m.Paused.Set(b2f(paused))
	case state.IsOp(k, r.h.Name):
		if rec.Value == nil {
			delete(r.ops, k)
			return
		}
		c, err := state.DecodeControl(rec.Value)
		if err != nil {
			r.log.Error("unreadable operator request, ignored", zap.String("key", k), zap.Error(err))
			return
		}
		r.ops[k] = opRequest{c, rec.Partition}
	}
}

// tailControl follows provbus.deliver.control from the offsets the start
// read reached, and applies each record on the loop.
func (r *handlerRun) tailControl(ctx context.Context, from map[int32]int64) {
	offs := map[int32]kgo.Offset{}
	for p, o := range from {
		offs[p] = kgo.NewOffset().At(o)
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), r.o.Kafka...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.controlTopic: offs}),
		kgo.FetchMaxWait(controlWait))...)
	if err != nil {
		r.log.Error("control client", zap.Error(err))
		return
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		var recs []*kgo.Record
		fs.EachRecord(func(rec *kgo.Record) { recs = append(recs, rec) })
		if len(recs) == 0 {
			continue
		}
		r.do(ctx, func() {
			for _, rec := range recs {
				r.applyControl(rec)
			}
			r.applyOps()
		})
	}
}

// applyOps applies the operator requests about partitions this instance
// owns, then deletes them from the control topic. A request names the
// event it is about, so one applied twice (a restart before its
// tombstone) finds another head and does nothing.
func (r *handlerRun) applyOps() {
	for k, req := range r.ops {
		c := req.Control
		part := c.Partition
		if c.Row != nil {
			part = c.Row.Partition
		}
		if !r.owned[part] {
			continue
		}
		switch c.Op {
		case state.OpUnblock:
			if h := r.sched.Head(c.Key); h != nil && h.EventID == c.EventID {
				if e := r.sched.Unblock(c.Key); e != nil {
					r.writeState([]*order.Entry{e}, false)
					r.log.Info("unblocked", zap.String("key", c.Key), zap.String("event_id", c.EventID), zap.String("by", c.By))
				}
			}
		case state.OpSkip:
			if h := r.sched.Head(c.Key); h != nil && h.EventID == c.EventID {
				if e := r.sched.SkipHead(c.Key); e != nil {
					e.LastError = "skipped by operator"
					r.fail(e, "skipped by operator", "")
					if e.Stored {
						r.writeState([]*order.Entry{e}, true)
					}
					r.history(&schemas.Delivery{Handler: r.h.Name, EventID: e.EventID, EventType: e.EventType, Key: e.Key,
						Partition: e.Partition, Offset: e.Offset, Attempt: int32(e.Attempt), Outcome: schemas.DeliverySkipped,
						Error: "skipped by " + c.By, At: time.Now()})
					r.log.Info("skipped", zap.String("key", c.Key), zap.String("event_id", c.EventID), zap.String("by", c.By))
				}
			}
		case state.OpRedrive:
			row := c.Row
			e := &order.Entry{Partition: row.Partition, Offset: row.Offset, Key: row.Key, Value: row.Value, EventID: row.EventID, EventType: row.EventType}
			r.sched.Inject(e)
			r.writeState([]*order.Entry{e}, false)
			// The failed row goes: the event is pending again.
			r.produce(&kgo.Record{Topic: r.failedTopic, Partition: row.Partition, Key: []byte(state.FailedKey(r.h.Name, row.EventID))}, nil)
			r.log.Info("redriven", zap.String("key", row.Key), zap.String("event_id", row.EventID), zap.String("by", c.By))
		}
		delete(r.ops, k)
		r.produce(&kgo.Record{Topic: r.controlTopic, Partition: req.partition, Key: []byte(k)}, nil)
	}
}

// opRequest is an operator request and the control partition it is in
// (where its tombstone goes).
type opRequest struct {
	*state.Control
	partition int32
}
