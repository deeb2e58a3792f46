package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// restoreIdle is the fallback stop condition of a restore: how long it
// waits for more records once none come. The exact condition is reaching
// the last stable offset (LSO) taken at the start: the restore client keeps
// control records (KeepControlRecords), so the commit or abort marker that
// ends a transactional changelog — usually the record at LSO-1 — is seen
// and ends the partition at once. Only when the record at LSO-1 is aborted
// data (two producers' transactions interleaved during a rebalance, the
// older one aborted after the newer began) does nothing at LSO-1 ever
// arrive, and this quiet period ends the restore. Before the markers were
// kept, every restore paid it: 750 ms per start and per rebalance.
const restoreIdle = 750 * time.Millisecond

// partKey names one partition of one topic.
type partKey struct {
	topic string
	part  int32
}

// restore replays partitions parts of every table's changelog, from the
// start up to the last stable offset at the time of the call, through
// Table.Apply. It returns the offset to tail each partition from.
func (r *Runner) restore(ctx context.Context, tables []Table, parts []int32) (map[partKey]int64, error) {
	next := map[partKey]int64{}
	if len(tables) == 0 || len(parts) == 0 {
		return next, nil
	}
	started := time.Now()
	byTopic := map[string]Table{}
	var topics []string
	for _, t := range tables {
		byTopic[t.Changelog] = t
		topics = append(topics, t.Changelog)
	}
	ends, err := r.adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("stream: end offsets of %v: %w", topics, err)
	}
	starts, err := r.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("stream: start offsets of %v: %w", topics, err)
	}
	end := map[partKey]int64{}
	consume := map[string]map[int32]kgo.Offset{}
	for _, t := range topics {
		for _, p := range parts {
			k := partKey{t, p}
			e, ok := ends.Lookup(t, p)
			if !ok || e.Err != nil {
				return nil, fmt.Errorf("stream: end offset of %s/%d: %v", t, p, e.Err)
			}
			s, _ := starts.Lookup(t, p)
			next[k] = s.Offset
			if e.Offset <= s.Offset {
				continue // empty
			}
			end[k] = e.Offset
			if consume[t] == nil {
				consume[t] = map[int32]kgo.Offset{}
			}
			consume[t][p] = kgo.NewOffset().At(s.Offset)
		}
	}
	applied := 0
	if len(end) > 0 {
		opts := append(append([]kgo.Opt(nil), r.kopts...),
			kgo.ConsumePartitions(consume),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.FetchMaxWait(200*time.Millisecond),
			// Markers tell the restore it reached the LSO (see
			// restoreIdle); they are never applied.
			kgo.KeepControlRecords(),
		)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, fmt.Errorf("stream: restore client: %w", err)
		}
		defer cl.Close()
		for len(end) > 0 {
			pctx, cancel := context.WithTimeout(ctx, restoreIdle)
			fs := cl.PollFetches(pctx)
			cancel()
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if fs.NumRecords() == 0 {
				break // only aborted data left below the LSO (see restoreIdle)
			}
			var ferr error
			fs.EachError(func(t string, p int32, err error) {
				if !errors.Is(err, context.DeadlineExceeded) && ferr == nil {
					ferr = fmt.Errorf("stream: restore %s/%d: %w", t, p, err)
				}
			})
			if ferr != nil {
				return nil, ferr
			}
			fs.EachRecord(func(rec *kgo.Record) {
				k := partKey{rec.Topic, rec.Partition}
				e, ok := end[k]
				if !ok || rec.Offset >= e {
					return
				}
				if !rec.Attrs.IsControl() {
					table := byTopic[rec.Topic] // keyed by the physical name
					if err := logically(r.ns, rec, func() error { return table.Apply(rec.Partition, rec) }); err != nil {
						r.malformed(rec, err)
					} else {
						applied++
					}
				}
				next[k] = rec.Offset + 1
				if rec.Offset >= e-1 {
					delete(end, k)
				}
			})
		}
	}
	r.log.Info("state restored", zap.Strings("changelogs", topics), zap.Int32s("partitions", parts),
		zap.Int("records", applied), zap.Duration("took", time.Since(started)))
	return next, nil
}

// tail keeps applying follow tables' changelogs from next until ctx ends.
type tail struct {
	cancel context.CancelFunc
	done   chan struct{}
	next   map[partKey]int64 // owned by the tail goroutine until done
}

func (r *Runner) startTail(next map[partKey]int64) *tail {
	byTopic := map[string]Table{}
	for _, t := range r.spec.Tables {
		if t.Follow {
			byTopic[t.Changelog] = t
		}
	}
	consume := map[string]map[int32]kgo.Offset{}
	for k, off := range next {
		if _, ok := byTopic[k.topic]; !ok {
			continue
		}
		if consume[k.topic] == nil {
			consume[k.topic] = map[int32]kgo.Offset{}
		}
		consume[k.topic][k.part] = kgo.NewOffset().At(off)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &tail{cancel: cancel, done: make(chan struct{}), next: next}
	if len(consume) == 0 {
		close(t.done)
		return t
	}
	go func() {
		defer close(t.done)
		opts := append(append([]kgo.Opt(nil), r.kopts...),
			kgo.ConsumePartitions(consume),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.FetchMaxWait(100*time.Millisecond),
		)
		if r.metrics != nil {
			// Long-lived like the main client; the restore and admin
			// clients are short-lived or idle and not instrumented.
			opts = append(opts, r.metrics.Kafka(r.spec.Group+".tail"))
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			r.log.Error("tail client", zap.Error(err))
			return
		}
		defer cl.Close()
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			fs.EachError(func(tp string, p int32, err error) {
				r.log.Warn("tail fetch", zap.String("topic", tp), zap.Int32("partition", p), zap.Error(err))
			})
			fs.EachRecord(func(rec *kgo.Record) {
				table := byTopic[rec.Topic] // keyed by the physical name
				if err := logically(r.ns, rec, func() error { return table.Apply(rec.Partition, rec) }); err != nil {
					r.malformed(rec, err)
				}
				t.next[partKey{rec.Topic, rec.Partition}] = rec.Offset + 1
			})
		}
	}()
	return t
}

// stop ends the tail and returns where each partition stopped.
func (t *tail) stop() map[partKey]int64 {
	t.cancel()
	<-t.done
	return t.next
}
