package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	// pendingSince is when AtLeastOnce mode first left offsets
	// uncommitted.
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
		sess, err := kgo.NewGroupTransactSession(append(opts,
			kgo.TransactionalID(l.txnID),
			kgo.TransactionTimeout(r.txnTimeout),
		)...)
		if err != nil {
			return nil, fmt.Errorf("stream: transact session: %w", err)
		}
		l.sess, l.cl = sess, sess.Client()
		l.out = &Output{prod: sess, ns: r.ns}
	}
	l.out.codec, l.out.parts = r.codec, parts
	l.m = newLoopMetrics(r.metrics, r.spec.Group, l.out)
	return l, nil
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
		l.m.pollReturned()
		var fatal error
		fs.EachError(func(t string, p int32, err error) {
			switch {
			case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			case errors.Is(err, kgo.ErrClientClosed):
				fatal = err
			default:
				l.r.log.Warn("fetch error", zap.String("topic", t), zap.Int32("partition", p), zap.Error(err))
			}
		})
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
		if err := l.maybeCommit(ctx); err != nil {
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

// atLeastOnceCommit is the offset commit interval of AtLeastOnce mode.
const atLeastOnceCommit = time.Second

// errFatal marks errors Run returns instead of retrying.
var errFatal = errors.New("fatal")

// batch processes one poll as one transaction.
func (l *loop) batch(ctx context.Context, fs kgo.Fetches, tick *Tick) error {
	if l.sess != nil {
		if err := l.sess.Begin(); err != nil {
			return fmt.Errorf("%w: stream: begin transaction: %w", errFatal, err)
		}
	}
	l.out.reset(ctx, time.Now())
	l.m.begin(l.out)
	err := l.processAll(ctx, fs)
	if err == nil && tick != nil {
		if tk, ok := l.r.proc.(Ticker); ok {
			err = tk.Tick(ctx, *tick, l.out)
		}
	}
	if l.sess == nil {
		return l.commitAtLeastOnce(ctx, err, fs)
	}
	if err == nil {
		if ferr := l.cl.Flush(ctx); ferr != nil {
			err = ferr
		} else {
			err = l.out.err()
		}
	}
	how := kgo.TryCommit
	if err != nil {
		how = kgo.TryAbort
	}
	var committed bool
	var endErr error
	// Only a poll that returned no records may skip the session: after a
	// revoke kgo drops the revoked partitions' uncommitted offsets, so an
	// empty UncommittedOffsets alone would commit that poll's outputs
	// without its offsets and without the session's revoke check — the
	// records would be processed again (duplicates).
	if err == nil && fs.NumRecords() == 0 && len(l.cl.UncommittedOffsets()) == 0 {
		committed, endErr = l.endOffsetless(ctx)
	} else {
		committed, endErr = l.sess.End(ctx, how)
	}
	if committed && endErr == nil {
		l.m.committed(l.out, fs, l.pos)
		return nil
	}
	if endErr != nil {
		// The outcome may be unknown: heal the session and resume
		// from the group's committed offsets (see recoverUnconfirmed).
		if rerr := l.recoverUnconfirmed(ctx); rerr != nil {
			return rerr
		}
	}
	// Nothing of this poll is visible; the session rewound the inputs.
	// The processor's state saw the poll, so reload it from the
	// changelogs and the positions from the group.
	l.dirty = true
	if err == nil {
		err = endErr
	}
	if err == nil {
		err = errors.New("transaction not committed (rebalance)")
	}
	return err
}

// endOffsetless ends a transaction that carries no input offsets: a poll
// that returned no records but whose Tick ran (the directory's watermarks,
// an idle route tick). GroupTransactSession.End treats a commit without
// offsets as one on a pre-KIP-447 broker (franz-go v1.22 reads the version
// of a TxnOffsetCommit response it never sent) and then holds its lock for
// 500 ms, so End returned half a second late: every directory tick took
// 750 ms instead of 250, and every idle route tick stalled the next batch.
// Without offsets the session adds nothing — its heartbeat only protects
// offsets (kgo's own comment: an empty end is always safe) — so the
// client's EndTransaction is called directly: commit when the Tick wrote
// records, abort (no request at all) when it wrote none. A revoke during
// such a transaction still makes the session abort the next one that
// carries offsets; what is committed here (watermarks) only describes
// facts of earlier committed polls, so it is true whichever member owns
// the partition by then.
func (l *loop) endOffsetless(ctx context.Context) (bool, error) {
	how := kgo.TryCommit
	if l.out.produced == 0 {
		how = kgo.TryAbort
	}
	if err := l.cl.EndTransaction(ctx, how); err != nil {
		return false, err
	}
	// An empty transaction aborted loses nothing: report it done, so the
	// state is not reloaded.
	return true, nil
}

func (l *loop) commitAtLeastOnce(ctx context.Context, err error, fs kgo.Fetches) error {
	if err != nil {
		return fmt.Errorf("%w: at-least-once mode cannot rewind: %w", errFatal, err)
	}
	if err := l.cl.Flush(ctx); err != nil {
		return err
	}
	if err := l.out.err(); err != nil {
		return fmt.Errorf("%w: produce: %w", errFatal, err)
	}
	l.m.committed(l.out, fs, l.pos)
	// Like a plain consumer's auto-commit, offsets are committed after the
	// produce, atLeastOnceCommit after the first uncommitted poll: a crash
	// in between replays (duplicates) up to that much output — what the
	// negative twin is for.
	if l.pendingSince.IsZero() {
		l.pendingSince = time.Now()
	}
	return l.maybeCommit(ctx)
}

// maybeCommit commits AtLeastOnce offsets once they have waited
// atLeastOnceCommit.
func (l *loop) maybeCommit(ctx context.Context) error {
	if l.sess != nil || l.pendingSince.IsZero() || time.Since(l.pendingSince) < atLeastOnceCommit {
		return nil
	}
	l.pendingSince = time.Time{}
	if err := l.cl.CommitUncommittedOffsets(ctx); err != nil {
		return fmt.Errorf("%w: commit offsets: %w", errFatal, err)
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

func (l *loop) advance(rec *kgo.Record) {
	l.pos[partKey{rec.Topic, rec.Partition}] = rec.Offset + 1
}
