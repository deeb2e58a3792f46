package ingest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/metrics"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/producers/edge"
	"github.com/provbus/provbus/schemas"
)

// Quarantine reasons (the "reason" field and header of provbus.quarantine
// records).
const (
	ReasonUnknownType = "unknown event type"
	ReasonWrongSource = "event type belongs to another source"
)

// AttrEventTypeSent keeps the sender's spelling of an event type when it
// was an alias of the canonical name.
const AttrEventTypeSent = "provbus.event_type_sent"

// meta is what the transport knows about a body.
type meta struct {
	received    time.Time
	remoteAddr  string
	contentType string
	// instance is the source installation the credentials belong to
	// ("" for the default one).
	instance string
}

// batch is what one request (or one import line) becomes: records ready to
// produce and the ids to report.
type batch struct {
	records     []*kgo.Record
	accepted    []string // event ids of domain-topic records
	quarantined []string // event ids of quarantined records
	// Event types (canonical for accepted, as sent for quarantined),
	// parallel to accepted and quarantined, for the metrics.
	acceptedTypes    []string
	quarantinedTypes []string
}

// prepare parses, validates and encodes a body. It produces nothing, so a
// bad element anywhere leaves Kafka untouched. The error is a *edge.Error
// for bad input, anything else is the server's fault (encoding).
func (s *Server) prepare(src edge.Source, body []byte, m meta) (*batch, error) {
	if err := s.s.limits.Check(body); err != nil {
		return nil, err
	}
	evs, err := src.Parse(body, m.received)
	if err != nil {
		return nil, s.completeProblems(src, body, m, err)
	}
	if err := s.s.limits.CheckEvents(evs); err != nil {
		return nil, err
	}
	if m.instance != "" {
		for i := range evs {
			setInstance(&evs[i], m.instance)
		}
	} else if err := s.reservedIDs(src, evs); err != nil {
		return nil, err
	}
	b := &batch{records: make([]*kgo.Record, 0, len(evs))}
	var bad edge.Error
	type routed struct {
		ev     *schemas.Event
		topic  string
		key    string
		reason string
	}
	plan := make([]routed, len(evs))
	size := 0
	for i := range evs {
		ev := &evs[i]
		// One catalog resolution per event: it used to be four look-ups
		// (missingKey's and the routing's, each Lookup and DomainOf).
		t, ok := s.s.catalog.Lookup(ev.EventType)
		if !ok {
			plan[i] = routed{ev: ev, reason: ReasonUnknownType}
			continue
		}
		if string(t.Source) != src.Name() {
			plan[i] = routed{ev: ev, reason: ReasonWrongSource + " (" + string(t.Source) + ")"}
			continue
		}
		d, ok := s.s.catalog.DomainOf(t.Name)
		if !ok {
			plan[i] = routed{ev: ev, reason: ReasonUnknownType + " (no domain)"}
			continue
		}
		key, ok := ev.Key(d.Key)
		if !ok || key == "" {
			bad.Add(i, src.Field(d.Key), edge.MsgMissing)
			continue
		}
		if t.Name != ev.EventType {
			ev.Attributes[AttrEventTypeSent] = ev.EventType
			ev.EventType = t.Name
		}
		plan[i] = routed{ev: ev, topic: d.Topic, key: key}
		size += len(ev.Payload)
	}
	if err := bad.Err(); err != nil {
		return nil, err
	}
	// The values of a request are encoded into one slab (the Avro record
	// holds the payload and the attributes, so about twice the payload)
	// instead of a growing buffer per record.
	slab := make([]byte, 0, 2*size+256*len(evs))
	for _, p := range plan {
		if p.reason != "" {
			q := &schemas.Quarantined{
				Source: src.Name(), ReceivedAt: m.received.UTC(), Reason: p.reason,
				EventType: ptr(p.ev.EventType), EventID: ptr(p.ev.EventID),
				ContentType: m.contentType, RemoteAddr: m.remoteAddr, Body: []byte(p.ev.Payload),
			}
			rec, err := records.Quarantine(s.codec, q)
			if err != nil {
				return nil, fmt.Errorf("quarantine record: %w", err)
			}
			b.records = append(b.records, rec)
			b.quarantined = append(b.quarantined, p.ev.EventID)
			b.quarantinedTypes = append(b.quarantinedTypes, p.ev.EventType)
			continue
		}
		start := len(slab)
		var err error
		if slab, err = s.codec.Encode(slab, p.topic, p.ev); err != nil {
			return nil, fmt.Errorf("event record: %w", err)
		}
		// Capped, so a slab that grows past its estimate never lets a
		// record's value overlap the next one.
		rec := records.EventRecord(p.topic, p.key, slab[start:len(slab):len(slab)], p.ev)
		b.records = append(b.records, rec)
		b.accepted = append(b.accepted, p.ev.EventID)
		b.acceptedTypes = append(b.acceptedTypes, p.ev.EventType)
	}
	return b, nil
}

// setInstance records a named instance on ev and makes its id unique
// across instances: "<instance>:<id>". The default instance keeps the
// source's id as it always was, so a single installation's ids, and the
// de-duplication keyed on them, do not change; an instance name has no
// ':' (config.ValidInstance), so no prefixed id equals an unprefixed one.
func setInstance(ev *schemas.Event, instance string) {
	ev.Instance = &instance
	ev.EventID = instance + ":" + ev.EventID
}

// reservedIDs refuses default-instance events whose id starts like a
// named instance's ("pb-eu:…"): the default installation's ids are taken
// as sent, and such an id would be the very id the named instance's event
// gets, which de-duplication would then drop.
func (s *Server) reservedIDs(src edge.Source, evs []schemas.Event) error {
	var bad edge.Error
	for i := range evs {
		for _, in := range s.instances[src.Name()] {
			if strings.HasPrefix(evs[i].EventID, in+":") {
				bad.Add(i, "event_id", fmt.Sprintf("invalid value: the prefix %q is instance %s's; the default installation may not use it", in+":", in))
				break
			}
		}
	}
	return bad.Err()
}

// missingKey reports (into bad) an event of a known type of src whose
// domain key id is absent: it cannot be keyed, so the request is refused.
func (s *Server) missingKey(src edge.Source, ev *schemas.Event, i int, bad *edge.Error) bool {
	t, ok := s.s.catalog.Lookup(ev.EventType)
	if !ok || string(t.Source) != src.Name() {
		return false
	}
	d, ok := s.s.catalog.DomainOf(t.Name)
	if !ok {
		return false
	}
	if key, ok := ev.Key(d.Key); !ok || key == "" {
		bad.Add(i, src.Field(d.Key), edge.MsgMissing)
		return true
	}
	return false
}

// completeProblems adds the missing-key problems of an array's
// well-formed elements to the parse problems, so one 400 names every bad
// index. It re-parses elements one by one, which only bad requests pay.
func (s *Server) completeProblems(src edge.Source, body []byte, m meta, err error) error {
	var bad *edge.Error
	if !errors.As(err, &bad) {
		return err
	}
	raws, eerr := edge.Elements(body)
	if eerr != nil || len(raws) < 2 {
		return err
	}
	failed := map[int]bool{}
	for _, p := range bad.Problems {
		failed[p.Index] = true
	}
	for i, raw := range raws {
		if failed[i] {
			continue
		}
		evs, perr := src.Parse(raw, m.received)
		if perr != nil || len(evs) != 1 {
			continue
		}
		s.missingKey(src, &evs[0], i, bad)
	}
	sort.SliceStable(bad.Problems, func(a, b int) bool { return bad.Problems[a].Index < bad.Problems[b].Index })
	return bad
}

// produce writes records and returns once every one is acknowledged, or
// on the first error, or when the produce timeout expires. It waits on the
// promises rather than in ProduceSync because an idempotent producer
// cannot fail a record whose request reached the broker unanswered (that
// would break its sequence numbers): it keeps retrying it, and ProduceSync
// would hang the request for as long as the broker stays down. Records
// still buffered at the timeout may be written later; the sender got a
// 503, retries, and the stable event id lets downstream drop the copy.
func (s *Server) produce(ctx context.Context, recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.s.produceTimeout)
	defer cancel()
	w := &waiter{remaining: len(recs), done: make(chan struct{}), metrics: s.s.metrics}
	for _, r := range recs {
		r.Topic = s.s.namespace.Topic(r.Topic) // logical inside, physical on the wire
		s.client.Produce(ctx, r, w.promise)
	}
	select {
	case <-w.done:
		if w.err != nil {
			return fmt.Errorf("produce: %w", w.err)
		}
		return nil
	case <-ctx.Done():
		// w.err may already say why (a failed record) while others are
		// still outstanding.
		w.mu.Lock()
		err := w.err
		w.mu.Unlock()
		if err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		return fmt.Errorf("produce: not acknowledged within %v: %w", s.s.produceTimeout, ctx.Err())
	}
}

// waiter collects the promises of one produce call.
type waiter struct {
	mu        sync.Mutex
	remaining int
	err       error
	done      chan struct{}
	metrics   *metrics.Pipeline
	// produced tallies acknowledged records per topic under mu, added to
	// the counters once the last promise is in: one counter look-up per
	// topic and request instead of one per record.
	produced []tally
}

// tally is a count per label value.
type tally struct {
	label string
	n     int
}

// add counts one label in ts; a request's records go to a few topics and
// its events are of a few types, so a linear scan beats a map.
func add(ts []tally, label string) []tally {
	for i := range ts {
		if ts[i].label == label {
			ts[i].n++
			return ts
		}
	}
	return append(ts, tally{label: label, n: 1})
}

func (w *waiter) promise(r *kgo.Record, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		// Per record, not per request: a request that ends in 503 may
		// still have had some of its records acknowledged.
		w.produced = add(w.produced, r.Topic)
	}
	if err != nil && w.err == nil {
		w.err = err
	}
	w.remaining--
	if w.remaining == 0 {
		for _, t := range w.produced {
			w.metrics.Produced(t.label).Add(float64(t.n))
		}
		close(w.done)
	}
}

// account counts the events of a batch with their outcome: accepted or
// quarantined once produced, or rejected with reason when the produce
// failed.
func (s *Server) account(source string, b *batch, reject string) {
	accepted, quarantined := metrics.OutcomeAccepted, metrics.OutcomeQuarantined
	if reject != "" {
		accepted, quarantined = metrics.Rejected(reject), metrics.Rejected(reject)
	}
	var buf [8]tally
	for _, t := range countTypes(buf[:0], b.acceptedTypes) {
		s.s.metrics.IngestEvent(source, t.label, accepted).Add(float64(t.n))
	}
	for _, t := range countTypes(buf[:0], b.quarantinedTypes) {
		s.s.metrics.IngestEvent(source, t.label, quarantined).Add(float64(t.n))
	}
}

func countTypes(ts []tally, types []string) []tally {
	for _, t := range types {
		ts = add(ts, t)
	}
	return ts
}

func ptr[T any](v T) *T { return &v }
