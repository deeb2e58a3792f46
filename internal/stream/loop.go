package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
)

// loop is one Run: the client, the partitions whose state is loaded and the
// input positions.
type loop struct {
	r     *Runner
	txnID string
	sess  *kgo.GroupTransactSession // nil in AtLeastOnce mode
	cl    *kgo.Client
	out   *Output
	raw   map[string]bool

	have     map[int32]bool
	pos      map[partKey]int64 // next input offset to process
	tail     *tail
	tailNext map[partKey]int64
	dirty    bool // own state no longer matches the last commit
	lastTick time.Time
	// partsRead is when the partition counts in out were read.
	partsRead time.Time
	// pendingSince is when AtLeastOnce mode first left offsets
	// uncommitted (atleastonce.go).
	pendingSince time.Time
	ev           schemas.Event
	m            *loopMetrics // nil without WithMetrics
}

func (r *Runner) newLoop(parts map[string]int32) (*loop, error) {
	l := &loop{r: r, have: map[int32]bool{}, pos: map[partKey]int64{}, tailNext: map[partKey]int64{}, raw: map[string]bool{}}
	for _, in := range r.spec.Inputs {
		l.raw[in.Topic] = in.Raw
	}
	opts := r.clientOpts()
	switch r.mode {
	case AtLeastOnce:
		cl, err := kgo.NewClient(append(opts, kgo.DisableAutoCommit())...)
		if err != nil {
			return nil, fmt.Errorf("stream: client: %w", err)
		}
		l.cl = cl
		l.out = &Output{prod: cl, ns: r.ns}
	default:
		l.txnID = r.txnPrefix + randomSuffix()
		if r.instance != "" {
			// Stable per instance: the restarted instance's
			// InitProducerID aborts what its predecessor left open.
			l.txnID = r.spec.Group + "-" + r.instance
		}
		sess, err := kgo.NewGroupTransactSession(append(opts,
			kgo.TransactionalID(l.txnID),
			kgo.TransactionTimeout(r.txnTimeout),
		)...)
		if err != nil {
			return nil, fmt.Errorf("stream: transact session: %w", err)
		}
		l.sess, l.cl = sess, sess.Client()
		l.out = &Output{prod: sess, ns: r.ns}
		if err := l.claim(); err != nil {
			l.close()
			return nil, err
		}
	}
	l.out.codec, l.out.parts, l.partsRead = r.codec, parts, time.Now()
	l.out.lister = l.listEnds
	l.m = newLoopMetrics(r.metrics, r.spec.Group, l.out)
	return l, nil
}

// claim initialises the producer id before the first poll. With a stable
// transactional id that InitProducerID aborts the transaction a killed
// predecessor left open; until then its offsets keep the group's committed
// offsets unstable, and every RequireStable fetch (kgo's own and
// loadPositions') waits — without this, until its transaction timeout,
// since kgo initialises the producer lazily at the first Begin.
func (l *loop) claim() error {
	if err := l.cl.BeginTransaction(); err != nil {
		return fmt.Errorf("stream: init producer id of %s: %w", l.txnID, err)
	}
	// Nothing was produced: no request, nothing to commit.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("stream: init producer id of %s: %w", l.txnID, err)
	}
	return nil
}

func (l *loop) close() {
	if l.tail != nil {
		l.tail.stop()
	}
	if l.sess != nil {
		l.sess.Close()
	} else {
		l.cl.Close()
	}
}

func (l *loop) poll(ctx context.Context) kgo.Fetches {
	pctx, cancel := context.WithTimeout(ctx, l.r.tickInterval)
	defer cancel()
	if l.sess != nil {
		return l.sess.PollRecords(pctx, l.r.maxPoll)
	}
	return l.cl.PollRecords(pctx, l.r.maxPoll)
}

func (l *loop) run(ctx context.Context) error {
	backoff := time.Duration(0)
	for {
		if ctx.Err() != nil {
			return nil
		}
		if err := l.sync(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		fs := l.poll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		l.out.newPoll()
		l.m.pollReturned()
		var fatal error
		fs.EachError(func(t string, p int32, err error) {
			switch {
			case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			case errors.Is(err, kgo.ErrClientClosed):
				fatal = err
			case errors.Is(err, kerr.FencedInstanceID):
				// kgo would rejoin and fight the other process for
				// the slot (see checkUniqueInstance).
				fatal = l.r.duplicate()
			default:
				l.r.log.Warn("fetch error", zap.String("topic", t), zap.Int32("partition", p), zap.Error(err))
			}
		})
		if errors.Is(fatal, ErrDuplicateInstance) {
			return fatal
		}
		if fatal != nil {
			return fmt.Errorf("stream: %w", fatal)
		}
		// The assignment may have changed while polling: load state for
		// new partitions before any of their records is processed.
		if err := l.sync(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := l.maybeCommitAtLeastOnce(ctx); err != nil {
			return err
		}
		if err := l.refreshPartitions(ctx); err != nil {
			return err
		}
		tick := l.tickDue()
		if fs.NumRecords() == 0 && (tick == nil || tick.CaughtUp == nil) {
			continue
		}
		if err := l.ready(ctx, fs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%w: stream: gate: %w", errFatal, err)
		}
		err := l.batch(ctx, fs, tick)
		switch {
		case err == nil:
			backoff = 0
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errFatal):
			return err
		default:
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
			l.r.log.Warn("transaction aborted; retrying", zap.Error(err), zap.Duration("backoff", backoff))
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
		}
	}
}

// refreshPartitions re-reads the partition counts of every topic the
// processor touches, at most once per WithPartitionRefresh, between polls
// (a poll places all its records with one view). Outputs that grew are
// used at their new count from the next poll on. A change that breaks
// co-partitioning (an input or a changelog grew alone) stops the
// processor: its state would be placed wrong. A failed read keeps the old
// counts until the next try.
func (l *loop) refreshPartitions(ctx context.Context) error {
	if time.Since(l.partsRead) < l.r.partitionRefresh {
		return nil
	}
	l.partsRead = time.Now()
	parts, _, err := checkTopics(ctx, l.r.adm, l.r.spec, l.r.ns)
	switch {
	case errors.Is(err, ErrCoPartitioning):
		return err
	case err != nil:
		l.r.log.Warn("re-reading partition counts", zap.Error(err))
		return nil
	}
	changed := false
	for t, n := range parts {
		if old := l.out.parts[t]; old != n {
			changed = true
			l.r.log.Info("partition count changed: records are placed over the new count", zap.String("topic", t),
				zap.Int32("was", old), zap.Int32("now", n))
		}
	}
	if changed {
		// The producer learns the new partitions now rather than at its
		// next metadata refresh, so records placed on them do not wait.
		l.cl.ForceMetadataRefresh()
	}
	l.out.parts = parts
	return nil
}

// errFatal marks errors Run returns instead of retrying.
var errFatal = errors.New("fatal")

// batch processes one poll: as one transaction (transact.go), or, in the
// test-only AtLeastOnce mode, with a plain produce and a later offset
// commit (atleastonce.go).
func (l *loop) batch(ctx context.Context, fs kgo.Fetches, tick *Tick) error {
	if l.sess == nil {
		return l.batchAtLeastOnce(ctx, fs, tick)
	}
	return l.transact(ctx, fs, tick)
}

// process runs the processor over one poll: every record, then the Tick,
// writing to l.out.
func (l *loop) process(ctx context.Context, fs kgo.Fetches, tick *Tick) error {
	l.out.reset(ctx, time.Now())
	l.m.begin(l.out)
	if err := l.processAll(ctx, fs); err != nil {
		return err
	}
	if tick != nil {
		if tk, ok := l.r.proc.(Ticker); ok {
			return tk.Tick(ctx, *tick, l.out)
		}
	}
	return nil
}

// ready waits for a Gate processor's records before the transaction
// begins (see Gate).
func (l *loop) ready(ctx context.Context, fs kgo.Fetches) error {
	g, ok := l.r.proc.(Gate)
	if !ok {
		return nil
	}
	var err error
	fs.EachRecord(func(rec *kgo.Record) {
		if err == nil {
			err = logically(l.r.ns, rec, func() error { return g.Ready(ctx, &Record{Raw: rec}, l.out) })
		}
	})
	return err
}

// processAll decodes each record once and runs the processor on it.
func (l *loop) processAll(ctx context.Context, fs kgo.Fetches) error {
	var err error
	failedAt := ""
	fs.EachRecord(func(rec *kgo.Record) {
		if err != nil {
			return
		}
		in := Record{Raw: rec}
		if !l.raw[rec.Topic] {
			if _, derr := l.r.codec.Decode(ctx, rec.Value, &l.ev); derr != nil {
				if reason := classify(derr); reason != "" {
					if failedAt == "" {
						failedAt = l.out.now.UTC().Format(time.RFC3339)
					}
					err = l.out.Record(records.DLQ(rec, l.r.spec.Group, reason, derr, failedAt), rec.Key)
					l.m.toDLQ(reason, rec.Topic)
					l.advance(rec)
					return
				}
				err = fmt.Errorf("decode %s/%d@%d: %w", rec.Topic, rec.Partition, rec.Offset, derr)
				return
			}
			in.Event = &l.ev
		}
		if perr := logically(l.r.ns, rec, func() error { return l.r.proc.Process(ctx, &in, l.out) }); perr != nil {
			reason := classify(perr)
			if reason == "" {
				err = fmt.Errorf("process %s/%d@%d: %w", rec.Topic, rec.Partition, rec.Offset, perr)
				return
			}
			if failedAt == "" {
				failedAt = l.out.now.UTC().Format(time.RFC3339)
			}
			err = l.out.Record(records.DLQ(rec, l.r.spec.Group, reason, perr, failedAt), rec.Key)
			l.m.toDLQ(reason, rec.Topic)
		}
		l.advance(rec)
	})
	return err
}

// listEnds lists the log end offsets of a physical topic (Output.EndOffsets).
func (l *loop) listEnds(ctx context.Context, topic string) (map[int32]int64, error) {
	listed, err := l.r.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("stream: end offsets of %s: %w", topic, err)
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	return ends, nil
}

// position is Tick.Position: the next offset to process of an assigned
// input partition (topic named logically).
func (l *loop) position(topic string, p int32) (int64, bool) {
	if !l.have[p] {
		return 0, false
	}
	off, ok := l.pos[partKey{l.r.ns.Topic(topic), p}]
	return off, ok
}

func (l *loop) advance(rec *kgo.Record) {
	l.pos[partKey{rec.Topic, rec.Partition}] = rec.Offset + 1
}
