package route

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/provbus/provbus/internal/metrics"
	"github.com/provbus/provbus/internal/stream"
	"github.com/provbus/provbus/topology"
)

// Stream plugs the router into the shared runner (internal/stream) and runs
// the de-duplication protocol (see Dedup) on it: Process admits (stages)
// each routed id and fans the event out, Tick writes the poll's changelog
// records into the same transaction, and the runner's outcome calls
// (stream.Transactional) Commit or Abort exactly what the poll staged. The
// runner restores a partition from ChangelogTopic when it is assigned and
// drops it when it is revoked; an abort costs no restore.
type Stream struct {
	cat  *topology.Catalog
	core *Processor
	log  *zap.Logger

	// mu guards the state: Process and Tick run on the runner's loop, but
	// a restore may run from its rebalance callbacks.
	mu        sync.Mutex
	outs      []Out
	topics    []string
	changes   []Change
	evictions prometheus.Counter // nil without metrics
}

// NewStream returns the router as a stream.Processor, remembering routed
// event ids for window (process.dedup_window; ≤ 0 disables de-duplication,
// for negative-twin tests only).
func NewStream(cat *topology.Catalog, window time.Duration, opts ...Option) *Stream {
	return &Stream{cat: cat, core: NewProcessor(cat, window, opts...), log: zap.NewNop()}
}

// WithDedupBound bounds the ids remembered per input partition
// (process.dedup_max_ids; ≤ 0 keeps DefaultMaxIDs) and logs through log
// when the bound makes a partition forget ids before the window ends. Call
// it before the runner starts.
func (s *Stream) WithDedupBound(maxIDs int, log *zap.Logger) *Stream {
	if log != nil {
		s.log = log
	}
	s.core.Dedup.configure(WithMaxIDs(maxIDs), WithEvictionHook(s.evicted))
	return s
}

// Instrument implements stream.Instrumented: events dropped as duplicates
// count in provbus_dedup_hits_total, ids forgotten at the memory bound in
// provbus_dedup_evictions_total. A poll whose transaction aborts is
// processed again, so its hits count again; the counter is for spotting
// retrying senders, not for reconciliation.
func (s *Stream) Instrument(p *metrics.Pipeline) {
	s.core.hits = p.DedupHits()
	s.evictions = p.DedupEvictions()
	s.core.Dedup.configure(WithEvictionHook(s.evicted))
}

// evicted reports ids forgotten at the memory bound (called under s.mu,
// from Commit or Restore).
func (s *Stream) evicted(tp Partition, ids int, oldestKept time.Time) {
	if s.evictions != nil {
		s.evictions.Add(float64(ids))
	}
	s.log.Warn("de-duplication memory bound reached: oldest event ids forgotten before process.dedup_window ends",
		zap.String("topic", tp.Topic), zap.Int32("partition", tp.Partition), zap.Int("forgotten", ids),
		zap.Time("remembered_since", oldestKept), zap.Int("max_ids", s.core.Dedup.maxIDs))
}

// Committed implements stream.Transactional: the poll's de-duplication
// changes are in the log.
func (s *Stream) Committed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.core.Dedup.Commit()
}

// Aborted implements stream.Transactional: the poll will be read again, so
// its staged ids are forgotten.
func (s *Stream) Aborted() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.core.Dedup.Abort()
}

// Spec declares the router's group, inputs (every domain topic and
// portabilling.account.inherited), outputs (every handler topic) and its
// de-duplication table.
func (s *Stream) Spec() stream.Spec {
	var in []stream.Input
	for _, t := range Inputs(s.cat) {
		in = append(in, stream.Input{Topic: t})
	}
	return stream.Spec{
		Group:         GroupID,
		Inputs:        in,
		Outputs:       append(Outputs(s.cat), ChangelogTopic),
		CoPartitioned: []string{ChangelogTopic},
		Tables: []stream.Table{{
			Changelog: ChangelogTopic,
			Apply:     s.apply,
			Drop:      s.drop,
		}},
	}
}

// Process routes one decoded input record.
func (s *Stream) Process(_ context.Context, in *stream.Record, out *stream.Output) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tp := Partition{Topic: in.Raw.Topic, Partition: in.Raw.Partition}
	var err error
	s.outs, err = s.core.Process(s.outs[:0], tp, in.Raw.Key, in.Raw.Timestamp, in.Event)
	if errors.Is(err, ErrUnroutable) {
		return stream.Poison("unroutable", err)
	}
	if err != nil {
		return err
	}
	// Route gives every target the same key and event (Route's contract):
	// one encoding per schema layout serves them all.
	s.topics = s.topics[:0]
	for i := range s.outs {
		s.topics = append(s.topics, s.outs[i].Topic)
	}
	if len(s.outs) > 0 {
		if err := out.EventTo(s.topics, string(s.outs[0].Key), s.outs[0].Event); err != nil {
			return err
		}
	}
	clear(s.outs) // do not pin the decoded event until the next record
	return nil
}

// Tick writes the poll's de-duplication changes to the changelog partition
// of their input partition, inside the poll's transaction.
func (s *Stream) Tick(_ context.Context, _ stream.Tick, out *stream.Output) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes = s.core.Dedup.Changes(s.changes[:0])
	for _, c := range s.changes {
		r := &kgo.Record{Topic: ChangelogTopic, Key: c.Key, Value: c.Value}
		if err := out.RecordTo(r, c.Partition); err != nil {
			return err
		}
	}
	return nil // Committed or Aborted follows, with the outcome
}

func (s *Stream) apply(_ int32, r *kgo.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.core.Dedup.Restore(r.Key, r.Value)
	if errors.Is(err, ErrBadChangelog) {
		// A record this version cannot read costs at most a duplicate
		// delivery; refusing to start over it would stop all routing.
		return nil
	}
	return err
}

func (s *Stream) drop(partition int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Partition p of the changelog holds input partition p of every input
	// topic, so all of them go.
	s.core.Dedup.RevokePartition(partition)
}
