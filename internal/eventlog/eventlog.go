// Package eventlog reads the provbus event log back for people: a time window
// of one or more topics (replay), the live end of them (tail), or everything
// that happened to one entity (history), decoded, filtered and written as
// NDJSON, CSV or an aligned table, or re-published byte for byte to another
// topic.
//
// Reading never scans a topic from its start to find a window: the window's
// first offsets come from ListOffsets by timestamp, its last from the same
// query at the window's end, clamped to the last stable offset because the
// reader is read_committed. History goes further and reads, of each topic,
// only the partition the entity's key hashes to (Kafka's murmur2, as every
// provbus producer partitions).
package eventlog

import (
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/schemas"
)

// Failures a command turns into a clear, non-zero exit. Compare with
// errors.Is; the wrapped message names the topic or the window.
var (
	// ErrUnknownTopic: a selected topic does not exist on the cluster.
	ErrUnknownTopic = errors.New("unknown topic")
	// ErrEmptyWindow: no selected partition holds a record in the window.
	ErrEmptyWindow = errors.New("empty window")
	// ErrNoTopics: the selection names no topic at all.
	ErrNoTopics = errors.New("no topics selected")
)

// Entry is one decoded record as the writers see it: where it sits in Kafka
// and the event it carries.
type Entry struct {
	Record *kgo.Record
	Event  *schemas.Event
	// Cause is the lineage of the entry, oldest first: the event ids that
	// led to it (a parent customer event, the inherited account event a
	// handler delivery carries). Only history fills it.
	Cause []string
}

// Stats counts what a read did, for the summary line.
type Stats struct {
	Read        int64 // records fetched inside the window
	Undecodable int64 // records whose value is not a decodable event (skipped)
	Matched     int64 // records that passed the filters
	Written     int64 // records written to the output or re-published
	Elapsed     time.Duration
}

// Rate is the read throughput: records read per second of Elapsed.
func (s Stats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Read) / s.Elapsed.Seconds()
}
