package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The AtLeastOnce mode exists only so the negative-twin tests can prove
// their duplicate checkers work: no transaction, a plain produce, and the
// offsets committed later, like a plain consumer's auto-commit. Nothing
// here runs in ExactlyOnce mode (l.sess != nil).

// atLeastOnceCommit is the offset commit interval of AtLeastOnce mode.
const atLeastOnceCommit = time.Second

// batchAtLeastOnce processes one poll without a transaction.
func (l *loop) batchAtLeastOnce(ctx context.Context, fs kgo.Fetches, tick *Tick) error {
	if err := l.process(ctx, fs, tick); err != nil {
		return fmt.Errorf("%w: at-least-once mode cannot rewind: %w", errFatal, err)
	}
	if err := l.cl.Flush(ctx); err != nil {
		return err
	}
	if err := l.out.err(); err != nil {
		return fmt.Errorf("%w: produce: %w", errFatal, err)
	}
	l.m.committed(l.out, fs, l.pos)
	if tx, ok := l.r.proc.(Transactional); ok {
		tx.Committed()
	}
	// Like a plain consumer's auto-commit, offsets are committed after the
	// produce, atLeastOnceCommit after the first uncommitted poll: a crash
	// in between replays (duplicates) up to that much output — what the
	// negative twin is for.
	if l.pendingSince.IsZero() {
		l.pendingSince = time.Now()
	}
	return l.maybeCommitAtLeastOnce(ctx)
}

// maybeCommitAtLeastOnce commits AtLeastOnce offsets once they have waited
// atLeastOnceCommit; in ExactlyOnce mode it does nothing.
func (l *loop) maybeCommitAtLeastOnce(ctx context.Context) error {
	if l.sess != nil || l.pendingSince.IsZero() || time.Since(l.pendingSince) < atLeastOnceCommit {
		return nil
	}
	l.pendingSince = time.Time{}
	if err := l.cl.CommitUncommittedOffsets(ctx); err != nil {
		return fmt.Errorf("%w: commit offsets: %w", errFatal, err)
	}
	return nil
}
