package stream

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/twmb/franz-go/pkg/kgo"
)

// transact processes one poll as one transaction. This is the whole
// exactly-once sequence; check it against KIP-447 ("producer scalability
// for exactly once semantics"):
//
//  1. Begin. The session's producer was initialised with the stable (or,
//     for a dynamic member, per-start) transactional id; InitProducerID
//     aborted whatever an earlier holder of the id left open.
//  2. Process every polled record and the Tick. Outputs, changelog rows and
//     DLQ records are produced at once, asynchronously, inside the
//     transaction (AddPartitionsToTxn is implicit in the client).
//  3. Flush, and check every produce result (Output.err).
//  4. End. GroupTransactSession.End adds the polled offsets to the
//     transaction (AddOffsetsToTxn, then TxnOffsetCommit carrying the group
//     member id and generation: a member fenced by a rebalance cannot
//     commit offsets, which is KIP-447's zombie fencing) and commits with
//     EndTxn — or aborts, if any step failed or the group rebalanced
//     during the transaction (the session then rewinds consumption to the
//     last committed offsets).
//     A poll that returned no records has no offsets to add: step 4 is a
//     bare EndTxn (endOffsetless).
//  5. If End failed, its outcome may be unknown: recoverUnconfirmed heals
//     the session and resumes from the group's committed offsets, read
//     with RequireStable.
//  6. Tell the processor the outcome. If nothing was committed, its
//     memory has seen records whose outputs are not visible: a
//     Transactional processor undoes the poll itself (Aborted); any other
//     has the state of its partitions marked dirty, and sync restores it
//     from the changelogs before the next poll.
//
// Readers of outputs use read_committed; new owners of a partition read
// their committed offsets with RequireStable (loadPositions), so they
// start after the previous owner's last transaction has settled.
func (l *loop) transact(ctx context.Context, fs kgo.Fetches, tick *Tick) error {
	// 1. Begin.
	if err := l.sess.Begin(); err != nil {
		return fmt.Errorf("%w: stream: begin transaction: %w", errFatal, err)
	}
	// 2. Process.
	before := l.positions(fs)
	err := l.process(ctx, fs, tick)
	// 3. Flush and check every produce.
	if err == nil {
		if err = l.cl.Flush(ctx); err == nil {
			err = l.out.err()
		}
	}
	// 4. End: offsets and commit, or abort.
	var committed bool
	var endErr error
	if err == nil && fs.NumRecords() == 0 && len(l.cl.UncommittedOffsets()) == 0 {
		// Only a poll that returned no records may skip the session:
		// after a revoke kgo drops the revoked partitions' uncommitted
		// offsets, so an empty UncommittedOffsets alone would commit
		// that poll's outputs without its offsets and without the
		// session's revoke check — the records would be processed again
		// (duplicates).
		committed, endErr = l.endOffsetless(ctx)
	} else {
		how := kgo.TryCommit
		if err != nil {
			how = kgo.TryAbort
		}
		committed, endErr = l.sess.End(ctx, how)
	}
	if committed && endErr == nil {
		l.m.committed(l.out, fs, l.pos)
		// 6. Committed.
		if tx, ok := l.r.proc.(Transactional); ok {
			tx.Committed()
		}
		return nil
	}
	// 5. Outcome unknown: heal, resume from the group's offsets.
	if endErr != nil {
		if rerr := l.recoverUnconfirmed(ctx); rerr != nil {
			return rerr
		}
	}
	// 6. Not committed: undo the poll, or reload the state it touched.
	tx, ok := l.r.proc.(Transactional)
	if ok {
		tx.Aborted()
	}
	if ok && endErr == nil {
		// The session rewound the inputs to where this poll began.
		maps.Copy(l.pos, before)
	} else {
		l.dirty = true
	}
	if err == nil {
		err = endErr
	}
	if err == nil {
		err = errors.New("transaction not committed (rebalance)")
	}
	return err
}

// positions returns the positions of the partitions fs returned, as they
// were before it is processed.
func (l *loop) positions(fs kgo.Fetches) map[partKey]int64 {
	out := map[partKey]int64{}
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		k := partKey{p.Topic, p.Partition}
		if off, ok := l.pos[k]; ok {
			out[k] = off
		}
	})
	return out
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
