package stream

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// recoverUnconfirmed heals the session after an End that failed, e.g. an
// EndTxn answered REQUEST_TIMED_OUT after the broker applied it (found by
// the fault suite, test/fault_outcome_test.go). Two things go wrong
// without it:
//
//   - kgo leaves the session inside the transaction, outcome unconfirmed,
//     until End(TryAbort) re-initialises the producer id (which fences
//     whatever may still be open); the next Begin otherwise fails with
//     "already in a transaction" and the processor dies.
//   - kgo rewinds consumption to the offsets *it* last saw committed, but
//     the broker may well have committed this poll: reprocessing it would
//     write every output a second time. The group's committed offsets,
//     read once pending transactional commits are settled (RequireStable),
//     are the truth, so consumption resumes from them.
//
// Any failure here is fatal: a restart resumes from the group, which is
// safe, whereas going on from kgo's view is not.
func (l *loop) recoverUnconfirmed(ctx context.Context) error {
	if _, err := l.sess.End(ctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("%w: stream: abort after an unconfirmed end: %w", errFatal, err)
	}
	topics := make([]string, 0, len(l.r.spec.Inputs))
	for _, in := range l.r.spec.Inputs {
		topics = append(topics, in.Topic)
	}
	committed, err := l.r.adm.FetchOffsetsForTopics(kadm.RequireStable(ctx), l.r.spec.Group, topics...)
	if err != nil {
		return fmt.Errorf("%w: stream: committed offsets after an unconfirmed end: %w", errFatal, err)
	}
	set := map[string]map[int32]kgo.EpochOffset{}
	wanted, _ := l.r.peekAssignment()
	for _, t := range topics {
		for _, p := range wanted {
			c, ok := committed.Lookup(t, p)
			if !ok || c.Err != nil || c.At < 0 {
				continue
			}
			if set[t] == nil {
				set[t] = map[int32]kgo.EpochOffset{}
			}
			set[t][p] = kgo.EpochOffset{Epoch: c.LeaderEpoch, Offset: c.At}
		}
	}
	l.cl.SetOffsets(set)
	return nil
}

// peekAssignment returns the wanted partitions without consuming the
// revoked set (assignment does, for sync).
func (r *Runner) peekAssignment() ([]int32, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int32, 0, len(r.wanted))
	for p := range r.wanted {
		out = append(out, p)
	}
	return out, len(out) > 0
}
