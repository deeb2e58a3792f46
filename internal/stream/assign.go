package stream

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"
)

// sync brings loaded state in line with the assignment: partitions gone or
// revoked since the last sync are dropped, new ones (and revoked-then-
// reassigned ones, which another member may have changed meanwhile) are
// restored from their changelogs before any of their records is processed.
// After an aborted transaction every partition is reloaded, unless the
// processor is Transactional and the abort was clean (transact, step 6).
func (l *loop) sync(ctx context.Context) error {
	wanted, stale := l.r.assignment()
	if l.dirty {
		for p := range l.have {
			stale[p] = true
		}
	}
	want := map[int32]bool{}
	for _, p := range wanted {
		want[p] = true
	}
	var drop, add []int32
	for p := range l.have {
		if !want[p] || stale[p] {
			drop = append(drop, p)
		}
	}
	for _, p := range wanted {
		if !l.have[p] || stale[p] {
			add = append(add, p)
		}
	}
	if len(drop) == 0 && len(add) == 0 && !l.dirty {
		return nil
	}
	sort.Slice(add, func(i, j int) bool { return add[i] < add[j] })
	if l.tail != nil {
		l.tailNext = l.tail.stop()
		l.tail = nil
	}
	for _, p := range drop {
		for _, t := range l.r.spec.Tables {
			t.Drop(p)
			delete(l.tailNext, partKey{t.Changelog, p})
		}
		for _, in := range l.r.spec.Inputs {
			delete(l.pos, partKey{in.Topic, p})
			l.m.forget(partKey{in.Topic, p})
		}
		delete(l.have, p)
	}
	// Positions first: reading them with RequireStable waits for the
	// previous owner's open transaction to settle, so the end offsets the
	// restore lists next include its changelog records (KIP-447).
	if err := l.loadPositions(ctx, add); err != nil {
		return err
	}
	next, err := l.r.restore(ctx, l.r.spec.Tables, add)
	if err != nil {
		return err
	}
	for k, off := range next {
		l.tailNext[k] = off
	}
	for _, p := range add {
		l.have[p] = true
	}
	l.dirty = false
	l.tail = l.r.startTail(l.tailNext)
	l.r.log.Info("assignment", zap.Int32s("partitions", wanted), zap.Int32s("restored", add), zap.Int("dropped", len(drop)))
	return nil
}

// loadPositions reads where the group will resume each new partition: its
// committed offset, or the log start when it has none (reset AtStart). The
// offsets are read with RequireStable: the broker answers once no
// transaction holding offsets of the group is pending.
func (l *loop) loadPositions(ctx context.Context, parts []int32) error {
	if len(parts) == 0 {
		return nil
	}
	topics := make([]string, 0, len(l.r.spec.Inputs))
	for _, in := range l.r.spec.Inputs {
		topics = append(topics, in.Topic)
	}
	committed, err := l.stableOffsets(ctx, topics)
	if err != nil {
		return err
	}
	starts, err := l.r.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("stream: start offsets: %w", err)
	}
	for _, t := range topics {
		for _, p := range parts {
			off := int64(0)
			if s, ok := starts.Lookup(t, p); ok {
				off = s.Offset
			}
			if c, ok := committed.Lookup(t, p); ok && c.Err == nil && c.At >= 0 {
				off = max(off, c.At)
			}
			l.pos[partKey{t, p}] = off
		}
	}
	return nil
}

// stableOffsets fetches the group's committed offsets of topics with
// RequireStable. The broker answers UNSTABLE_OFFSET_COMMIT while a
// transaction holding offsets of the group is open; that is retried until
// it settles (a killed predecessor's transaction was aborted by this
// member's InitProducerID, see claim; another member's ends within its
// transaction timeout), under the restore deadline.
func (l *loop) stableOffsets(ctx context.Context, topics []string) (kadm.OffsetResponses, error) {
	ctx, cancel := context.WithTimeout(ctx, l.r.restoreTimeout)
	defer cancel()
	for {
		committed, err := l.r.adm.FetchOffsetsForTopics(kadm.RequireStable(ctx), l.r.spec.Group, topics...)
		if err == nil {
			err = committed.Error()
		}
		if err == nil {
			return committed, nil
		}
		if !errors.Is(err, kerr.UnstableOffsetCommit) || ctx.Err() != nil {
			return nil, fmt.Errorf("stream: committed offsets of %s: %w", l.r.spec.Group, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// tickDue returns the Tick for this poll, with CaughtUp filled when the
// tick interval has passed, or nil when the processor has no Tick or it is
// not due.
func (l *loop) tickDue() *Tick {
	if _, ok := l.r.proc.(Ticker); !ok {
		return nil
	}
	now := time.Now()
	if now.Sub(l.lastTick) < l.r.tickInterval {
		return &Tick{Now: now, Assigned: l.assigned(), Position: l.position}
	}
	l.lastTick = now
	t := &Tick{Now: now, Assigned: l.assigned(), CaughtUp: map[string][]int32{}, Position: l.position}
	topics := make([]string, 0, len(l.r.spec.Inputs))
	for _, in := range l.r.spec.Inputs {
		topics = append(topics, in.Topic)
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.r.tickInterval)
	defer cancel()
	ends, err := l.r.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		l.r.log.Debug("list end offsets", zap.Error(err))
		t.CaughtUp = nil
		return t
	}
	for _, tp := range topics {
		for p := range l.have {
			e, ok := ends.Lookup(tp, p)
			if ok && e.Err == nil {
				// These end offsets are listed anyway: they also refresh
				// the lag of partitions no fetch returned lately.
				l.m.setLag(partKey{tp, p}, e.Offset-l.pos[partKey{tp, p}])
			}
			if ok && e.Err == nil && l.pos[partKey{tp, p}] >= e.Offset {
				lt, _ := l.r.ns.Logical(tp) // processors see the design's names
				t.CaughtUp[lt] = append(t.CaughtUp[lt], p)
			}
		}
	}
	return t
}

func (l *loop) assigned() []int32 {
	out := make([]int32, 0, len(l.have))
	for p := range l.have {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
