// Package stream is the one runner every provbus processor uses: Kafka
// plumbing (poll, transact, commit, state restore) written once, so a
// processor is a pure core plus a declaration of what it reads and keeps.
//
// # Usage
//
// A processor implements Processor: Spec says which consumer group it is
// (fixed forever once released), which topics it reads and which state
// tables it keeps; Process turns one decoded input into outputs.
//
//	type router struct{ seen map[int32]*seenSet }
//
//	func (r *router) Spec() stream.Spec {
//		return stream.Spec{
//			Group:   "provbus-route",
//			Inputs:  []stream.Input{{Topic: "portabilling.account"}, {Topic: "portabilling.account.inherited"}},
//			Outputs: []string{"handler.iptv", "provbus.route.seen"},
//			Tables: []stream.Table{{
//				Changelog: "provbus.route.seen", // compacted, partition p = state of input partition p
//				Apply:     r.restoreSeen,        // called for each changelog record on assignment
//				Drop:      r.dropSeen,           // partition revoked: forget its state
//			}},
//		}
//	}
//
//	func (r *router) Process(ctx context.Context, in *stream.Record, out *stream.Output) error {
//		// in.Event is decoded once by the runner and valid only during
//		// Process (it is reused); in.Raw is the Kafka record.
//		if r.seen[in.Raw.Partition].has(in.Event.EventID) {
//			return nil // filtered
//		}
//		// Changelog records go to the input's partition number.
//		seen := &kgo.Record{Topic: "provbus.route.seen", Key: []byte(in.Event.EventID), Value: ts}
//		if err := out.RecordTo(seen, in.Raw.Partition); err != nil {
//			return err
//		}
//		return out.Event("handler.iptv", key, in.Event)
//	}
//
//	r, err := stream.New(&router{...}, stream.WithKafka(kopts...), stream.WithCodec(codec), stream.WithLogger(log))
//	err = r.Run(ctx) // until ctx is cancelled or a fatal error
//
// # Guarantees
//
// Per poll the runner begins one transaction (kgo.GroupTransactSession,
// read_committed, KIP-447 stable offsets), runs Process for every polled
// record, produces every output and changelog record, and commits them with
// the input offsets: a crash, a broker restart or a rebalance neither loses
// nor duplicates an output. Transactions are per poll, not per record, so
// they stay large and cheap. The sequence is written once, step by step
// against KIP-447, in transact.go.
//
// A record that cannot be decoded (schemas.ErrNotWireFormat,
// ErrUnknownSchema, ErrUndecodable) or for which Process returns an error
// wrapping ErrPoison (see Poison) goes to provbus.dlq inside the same
// transaction; processing goes on. Any other error aborts the transaction,
// rewinds to the last commit, restores own state from its changelogs (or,
// for a Transactional processor, lets it undo the poll) and retries with
// backoff.
//
// A processor whose records must wait for another processor's progress
// implements Gate: Ready runs for every record of a poll before the poll's
// transaction begins, so no transaction is open while it waits (the
// dispatcher waits there for the directory's watermarks).
//
// # State
//
// State is partitioned like the inputs: partition p of every Table's
// changelog holds the state of input partition p (every input and changelog
// must have the same partition count; New checks it and refuses to start
// otherwise). When partitions are assigned, the runner replays each
// changelog partition up to its last stable offset (read_committed) through
// Table.Apply before it processes any record of that partition; on revoke it
// calls Table.Drop. The restore reads every partition to the end offset
// listed at its start, however slow the fetches, until WithRestoreTimeout;
// past it Run fails (ErrRestoreIncomplete) rather than work on partial
// state. A changelog record Apply refuses is skipped, counted and copied to
// provbus.dlq, restoring and tailing alike. A Follow table is read-only
// state written by another
// processor: after the restore it keeps being tailed (Apply is then called
// from another goroutine, so the processor must lock).
//
// # Modes
//
// ExactlyOnce is the default (the zero value). AtLeastOnce replaces the
// transaction with a plain producer and an offset commit after the produce,
// at most once a second like a plain consumer's auto-commit: a crash
// between the two duplicates outputs. It exists so the negative-twin
// tests can prove their duplicate checkers work; never run it in production.
// It lives apart, in atleastonce.go.
package stream
