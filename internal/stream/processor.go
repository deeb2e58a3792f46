package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/schemas"
)

// Processor is the core the runner drives. Process is called for every
// input record in partition order, from one goroutine.
type Processor interface {
	// Spec declares the group, inputs, outputs and state; it is read once
	// by New.
	Spec() Spec
	// Process handles one record: it writes zero or more outputs to out.
	// An error wrapping ErrPoison sends the record to the DLQ; any other
	// error aborts the poll's transaction and retries it.
	Process(ctx context.Context, in *Record, out *Output) error
}

// Ticker is implemented by processors that also act on time, such as the
// directory's watermarks. Tick runs once per poll, after Process has seen
// every record of the poll and inside the same transaction.
type Ticker interface {
	Tick(ctx context.Context, t Tick, out *Output) error
}

// Transactional is implemented by processors that stage their own state
// changes per transaction (the router's de-duplication). The runner reports
// the outcome of every poll's transaction, and after a clean abort it
// relies on Aborted to undo what the poll staged instead of dropping and
// restoring the processor's tables from their changelogs. (After an End
// whose outcome is unknown it still restores them, after Aborted.) A
// processor without it has its tables restored after every abort.
type Transactional interface {
	// Committed is called after the poll's transaction committed.
	Committed()
	// Aborted is called after it aborted: forget what the poll staged.
	Aborted()
}

// Gate is implemented by processors whose records must wait for another
// processor's progress: the dispatcher waits for the directory's
// watermarks. The runner calls Ready for every record of a poll after the
// poll returned and before the poll's transaction begins, so no
// transaction is open while it waits (however long the other processor is
// down, nothing times out and nothing is aborted). Ready blocks until the
// record may be processed; it returns an error only when ctx ends. A
// partition revoked during the wait is caught by the transaction that
// follows: kgo's session aborts it.
type Gate interface {
	Ready(ctx context.Context, in *Record, topics Partitions) error
}

// Partitions tells the partition count of an output topic (0 if it is not
// in Spec.Outputs) and the log end offsets of the poll; it is the
// read-only part of Output a Gate may use.
type Partitions interface {
	Partitions(topic string) int32
	// EndOffsets returns the log end offset of every partition of an
	// input or output topic, listed once per poll after the poll
	// returned: every record appended before any record of the poll is
	// below them. Every call for the same topic within one poll (Ready
	// and Process alike) returns the same offsets.
	EndOffsets(ctx context.Context, topic string) (map[int32]int64, error)
}

// Tick is what the runner knows about progress when it calls Ticker.Tick.
type Tick struct {
	// Now is the wall time taken before the log end offsets in CaughtUp were
	// listed: every input record appended before Now has been processed in
	// the partitions CaughtUp lists.
	Now time.Time
	// CaughtUp lists, per input topic, the assigned partitions whose every
	// record up to the log end (at Now) has been processed. It is nil on
	// polls where the end offsets were not listed (at most once per
	// WithTickInterval).
	CaughtUp map[string][]int32
	// Assigned lists the input partition numbers this member owns.
	Assigned []int32
	// Position returns the next offset to process of an assigned
	// partition of an input topic: every record below it has been
	// processed, and that is committed with this poll's transaction.
	Position func(topic string, partition int32) (int64, bool)
}

// Spec declares what a processor reads, writes and keeps.
type Spec struct {
	// Group is the consumer group id. It must never change once released:
	// a new group id re-reads every input from the start.
	Group string
	// Inputs are the topics consumed, all with the same partition count.
	Inputs []Input
	// Outputs are every topic Process or Tick writes to (the DLQ is added
	// by the runner). The runner checks they exist and learns their
	// partition counts to partition records itself.
	Outputs []string
	// CoPartitioned lists output topics that must have the inputs'
	// partition count because records are placed by partition number.
	CoPartitioned []string
	// Tables are the partitioned state of the processor.
	Tables []Table
}

// Input is one consumed topic.
type Input struct {
	Topic string
	// Raw inputs are not decoded: Record.Event is nil (e.g. the JSON
	// directory snapshots). Default false: values are Confluent wire-format
	// Avro, decoded once with the codec.
	Raw bool
}

// Table is one partitioned state table backed by a compacted changelog
// topic whose partition p holds the state of input partition p.
type Table struct {
	Changelog string
	// Follow marks a table another processor writes: after the restore
	// the runner keeps tailing it and calls Apply from its tail goroutine.
	Follow bool
	// Apply applies one changelog record (value nil = tombstone) to the
	// state of partition. An error means the record is malformed: the
	// runner skips it, counts it and copies it to provbus.dlq, while
	// restoring and while tailing alike (malformed.go).
	Apply func(partition int32, r *kgo.Record) error
	// Drop forgets the state of partition (revoked, or to be restored
	// again after an aborted transaction).
	Drop func(partition int32)
}

// Record is one input: the Kafka record, and the event decoded once.
type Record struct {
	Raw   *kgo.Record
	Event *schemas.Event // nil for Raw inputs
}

// ErrPoison marks an input that can never be processed: the runner sends it
// to provbus.dlq and goes on. Compare with errors.Is.
var ErrPoison = errors.New("poison record")

// PoisonError is a poison failure with the DLQ reason header value.
type PoisonError struct {
	Reason string // short class, e.g. "unroutable", "invalid"
	Err    error
}

// Error returns "<reason>: <cause>".
func (e *PoisonError) Error() string { return e.Reason + ": " + e.Err.Error() }

// Unwrap lets errors.Is find both ErrPoison and the cause.
func (e *PoisonError) Unwrap() []error { return []error{ErrPoison, e.Err} }

// Poison wraps err as a poison failure with a DLQ reason.
func Poison(reason string, err error) error {
	return &PoisonError{Reason: reason, Err: err}
}

// classify sorts a decode or process error into a DLQ reason ("" for
// retriable errors).
func classify(err error) string {
	var pe *PoisonError
	if errors.As(err, &pe) {
		return pe.Reason
	}
	if reason := schemas.PoisonReason(err); reason != "" {
		return reason
	}
	if errors.Is(err, ErrPoison) {
		return "poison"
	}
	return ""
}

// Mode selects the delivery guarantee.
type Mode int

const (
	// ExactlyOnce commits outputs and input offsets in one transaction.
	ExactlyOnce Mode = iota
	// AtLeastOnce produces, then commits offsets: duplicates on crash.
	// For negative-twin tests only.
	AtLeastOnce
)

// String names the mode for logs.
func (m Mode) String() string {
	if m == AtLeastOnce {
		return "at-least-once"
	}
	return "exactly-once"
}

func wrapf(err error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, err)...)
}
