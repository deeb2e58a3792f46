package deliver

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/provbus/provbus/deliver/order"
	"github.com/provbus/provbus/deliver/state"
)

func itoa(n int) string { return strconv.Itoa(n) }

// row is e as a provbus.deliver.state row.
func (r *handlerRun) row(e *order.Entry) *state.Row {
	return &state.Row{Handler: r.h.Name, Partition: e.Partition, Offset: e.Offset, Key: e.Key, EventID: e.EventID, EventType: e.EventType,
		Value: e.Value, Attempt: e.Attempt, FirstAt: e.FirstAt, NextAt: e.NextAt, Blocked: e.Blocked, LastError: e.LastError}
}

// writeState writes (or, with tombstone, deletes) the rows of entries in
// the partition of their handler record; the scheduler learns each
// acknowledgement through Durable.
func (r *handlerRun) writeState(entries []*order.Entry, tombstone bool) {
	for _, e := range entries {
		rec := &kgo.Record{Topic: r.stateTopic, Partition: e.Partition, Key: []byte(state.PendingKey(r.h.Name, e.Partition, e.Offset))}
		if !tombstone {
			rec.Value = r.row(e).Encode()
		}
		r.produce(rec, e)
	}
}

// produce writes rec; a failure is fatal to the handler's loop (the
// process restarts and restores), since franz-go already retried it. When
// e is set, its acknowledgement is reported to the loop.
func (r *handlerRun) produce(rec *kgo.Record, e *order.Entry) {
	r.cl.Produce(context.Background(), rec, func(rec *kgo.Record, err error) {
		if err != nil {
			select {
			case r.fatal <- fmt.Errorf("write %s: %w", rec.Topic, err):
			default:
			}
			return
		}
		if e == nil {
			return
		}
		r.ackMu.Lock()
		r.acked = append(r.acked, e)
		r.ackMu.Unlock()
		select {
		case r.ackSig <- struct{}{}:
		default:
		}
	})
}

func (r *handlerRun) drainAcks() {
	r.ackMu.Lock()
	acked := r.acked
	r.acked = nil
	r.ackMu.Unlock()
	for _, e := range acked {
		r.sched.Durable(e)
	}
}

// assign restores the waiting events of newly assigned partitions from
// provbus.deliver.state, read to its end offsets, before their records are
// fetched (franz-go calls OnPartitionsAssigned before fetching).
func (r *handlerRun) assign(ctx context.Context, parts []int32) {
	if len(parts) == 0 {
		return
	}
	for _, p := range parts {
		r.owned[p] = true
	}
	if !r.o.NoRestore {
		start := time.Now()
		rows := map[string]*state.Row{}
		_, err := state.ReadToEnd(ctx, r.o.Kafka, r.stateTopic, parts, func(rec *kgo.Record) {
			k := string(rec.Key)
			if !state.OfHandler(k, r.h.Name) {
				return
			}
			if rec.Value == nil {
				delete(rows, k)
				return
			}
			row, err := state.DecodeRow(rec.Value)
			if err != nil {
				r.log.Error("unreadable state row, ignored", zap.String("key", k), zap.Error(err))
				return
			}
			rows[k] = row
		})
		if err != nil {
			select {
			case r.fatal <- fmt.Errorf("restore %s: %w", r.stateTopic, err):
			default:
			}
			return
		}
		entries := make([]*order.Entry, 0, len(rows))
		for _, row := range rows {
			entries = append(entries, &order.Entry{Partition: row.Partition, Offset: row.Offset, Key: row.Key, Value: row.Value,
				EventID: row.EventID, EventType: row.EventType, Attempt: row.Attempt, FirstAt: row.FirstAt, NextAt: row.NextAt,
				Blocked: row.Blocked, LastError: row.LastError})
		}
		sort.Slice(entries, func(i, j int) bool {
			a, b := entries[i], entries[j]
			return a.Partition < b.Partition || a.Partition == b.Partition && a.Offset < b.Offset
		})
		r.sched.Restore(entries)
		r.log.Info("restored waiting events", zap.Int32s("partitions", parts), zap.Int("events", len(entries)), zap.Duration("took", time.Since(start)))
	}
	r.applyOps()
}

// revoke gives partitions up: with commit (a revocation, not a loss), the
// state writes are flushed and the commit points committed first, so the
// next owner restores and resumes exactly there.
func (r *handlerRun) revoke(ctx context.Context, parts []int32, commit bool) {
	if len(parts) == 0 {
		return
	}
	r.reclaim() // not sent yet: the new owner sends them
	if commit {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := r.cl.Flush(fctx); err != nil {
			r.log.Warn("flush before revoke", zap.Error(err))
		}
		cancel()
		r.drainAcks()
		r.commit(ctx)
	}
	for _, p := range parts {
		r.sched.Revoke(p)
		delete(r.owned, p)
	}
}

// shutdown flushes the state writes and commits what is final or durable.
// Attempts still in flight are abandoned: the next owner sends them again.
func (r *handlerRun) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.cl.Flush(ctx); err != nil {
		r.log.Warn("flush at shutdown", zap.Error(err))
	}
	r.drainAcks()
	r.commit(ctx)
}

func (r *handlerRun) updateGauges() {
	n, oldest := 0, time.Time{}
	r.sched.Each(func(e *order.Entry, head bool) {
		n++
		if !e.FirstAt.IsZero() && (oldest.IsZero() || e.FirstAt.Before(oldest)) {
			oldest = e.FirstAt
		}
	})
	r.m.Pending.Set(float64(n))
	if oldest.IsZero() {
		r.m.Oldest.Set(0)
	} else {
		r.m.Oldest.Set(time.Since(oldest).Seconds())
	}
	r.m.Circuit.Set(b2f(r.brk.Open()))
	r.m.Paused.Set(b2f(r.sched.Paused()))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
