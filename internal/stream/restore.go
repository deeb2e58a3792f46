package stream

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// DefaultRestoreTimeout bounds one restore (every assigned changelog
// partition read to its end). It is generous on purpose: a restore that
// gives up leaves the processor stopped, while one that is merely slow (a
// leader move, a cold segment, a slow TLS connect) only delays it.
const DefaultRestoreTimeout = 5 * time.Minute

// WithRestoreTimeout sets how long a restore may take before Run fails
// with ErrRestoreIncomplete (default DefaultRestoreTimeout;
// process.restore_timeout); d ≤ 0 keeps the default.
func WithRestoreTimeout(d time.Duration) Option {
	return func(r *Runner) {
		if d > 0 {
			r.restoreTimeout = d
		}
	}
}

// ErrRestoreIncomplete is returned by Run when a changelog partition did
// not reach the end offset taken at the start of its restore within the
// restore timeout. The processor does not start on partial state.
var ErrRestoreIncomplete = errors.New("state restore incomplete")

// partKey names one partition of one topic.
type partKey struct {
	topic string
	part  int32
}

// restore replays partitions parts of every table's changelog through
// Table.Apply, from the log start up to the last stable offset (LSO)
// listed at the start of the call, and returns the offset to tail each
// partition from.
//
// The end condition is exact, never a quiet period: a partition is done
// when a record at offset ≥ LSO−1 has been read. The client keeps control
// records, so the commit or abort marker that usually sits at LSO−1 counts
// (markers are never applied). When the record at LSO−1 is aborted data
// (read_committed skips it), the LSO was held there by another open
// transaction, and that transaction's own marker — written when it
// commits, aborts, or is aborted at its timeout — is the record that ends
// the partition. Fetch errors and slow fetches are retried by the client;
// the only limit is the restore timeout, past which the restore fails
// naming every partition that had not reached its end.
//
// The caller must have read the group's committed offsets with
// RequireStable first (loadPositions): that waits for the previous owner's
// pending transaction to settle, so the LSO listed here includes its
// changelog records.
func (r *Runner) restore(ctx context.Context, tables []Table, parts []int32) (map[partKey]int64, error) {
	next := map[partKey]int64{}
	if len(tables) == 0 || len(parts) == 0 {
		return next, nil
	}
	started := time.Now()
	ctx, cancel := context.WithTimeout(ctx, r.restoreTimeout)
	defer cancel()
	byTopic := map[string]Table{}
	var topics []string
	for _, t := range tables {
		byTopic[t.Changelog] = t
		topics = append(topics, t.Changelog)
	}
	ends, err := r.adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return nil, r.restoreFailed(ctx, fmt.Errorf("stream: end offsets of %v: %w", topics, err))
	}
	starts, err := r.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, r.restoreFailed(ctx, fmt.Errorf("stream: start offsets of %v: %w", topics, err))
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
			// Markers end a partition (see above); they are never
			// applied.
			kgo.KeepControlRecords(),
		)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, fmt.Errorf("stream: restore client: %w", err)
		}
		defer cl.Close()
		for len(end) > 0 {
			fs := cl.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				if !errors.Is(err, context.DeadlineExceeded) {
					return nil, err // the caller's own cancellation (shutdown), not a timeout
				}
				return nil, incomplete(end, next, r.restoreTimeout)
			}
			var fatal error
			fs.EachError(func(t string, p int32, err error) {
				// An error Kafka calls retriable (or a connection
				// error) is retried by the client, and a partition
				// that never recovers fails the restore at its
				// deadline; any other (not authorised, an unsupported
				// version …) will not heal by waiting: fail now.
				var ke *kerr.Error
				if errors.As(err, &ke) && !ke.Retriable {
					if fatal == nil {
						fatal = fmt.Errorf("stream: restore %s/%d: %w", t, p, err)
					}
					return
				}
				r.log.Warn("restore fetch error; retrying", zap.String("topic", t), zap.Int32("partition", p), zap.Error(err))
			})
			if fatal != nil {
				return nil, fatal
			}
			fs.EachRecord(func(rec *kgo.Record) {
				k := partKey{rec.Topic, rec.Partition}
				e, ok := end[k]
				if !ok {
					return
				}
				if !rec.Attrs.IsControl() && rec.Offset < e {
					table := byTopic[rec.Topic] // keyed by the physical name
					if err := logically(r.ns, rec, func() error { return table.Apply(rec.Partition, rec) }); err != nil {
						r.malformed(rec, err)
					} else {
						applied++
					}
					next[k] = rec.Offset + 1
				}
				if rec.Offset >= e-1 {
					// Records past the end belong to the tail (or, for
					// an own table, to the transaction that wrote them).
					next[k] = e
					delete(end, k)
				}
			})
		}
	}
	r.log.Info("state restored", zap.Strings("changelogs", topics), zap.Int32s("partitions", parts),
		zap.Int("records", applied), zap.Duration("took", time.Since(started)))
	return next, nil
}

// restoreFailed turns a restore's deadline into ErrRestoreIncomplete and
// leaves the caller's own cancellation as it is.
func (r *Runner) restoreFailed(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, ErrRestoreIncomplete) {
		return fmt.Errorf("%w after %s: %w", ErrRestoreIncomplete, r.restoreTimeout, err)
	}
	return err
}

// incomplete names the partitions a restore did not finish.
func incomplete(end, next map[partKey]int64, timeout time.Duration) error {
	var left []string
	for k, e := range end {
		left = append(left, fmt.Sprintf("%s/%d at offset %d of %d", k.topic, k.part, next[k], e))
	}
	sort.Strings(left)
	return fmt.Errorf("%w: not at the end after %s: %s (raise process.restore_timeout if the cluster is only slow)",
		ErrRestoreIncomplete, timeout, strings.Join(left, ", "))
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
