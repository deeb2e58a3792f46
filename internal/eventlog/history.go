package eventlog

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// parentLookback bounds how far before its earliest inherited event history
// looks for the parent customer or product events: the dispatcher writes
// the inherited events after their parent, normally within seconds, and a
// week covers a dispatcher that was down for days (it is also the
// de-duplication window). The bound keeps the parent read to a window
// rather than the whole partition.
const parentLookback = 7 * 24 * time.Hour

// Entity is the subject of a history: a typed id field and its value, the
// record key of every topic keyed by that field (design §2).
type Entity struct {
	Field string // "i_account", "i_customer", "msisdn", …
	Value string // as the record key spells it: "42", "+33612345678"
}

// String renders e for messages.
func (e Entity) String() string { return e.Field + " " + e.Value }

// History gathers what happened to one entity.
type History struct {
	Catalog *topology.Catalog
	// Namespace maps the catalog's topics to the cluster's (topics.prefix).
	Namespace topology.Namespace
	Codec     *schemas.Codec
	Window    Window
	Filter    *Filter // optional, applied to the entity's own records
	// MaxOffsets, when positive, bounds the read to the newest MaxOffsets
	// offsets of each partition, so the cost of a history does not grow
	// with the topics (the console sets it). Horizon then says from when
	// the history is complete: records before it are dropped, since some
	// partitions were not read that far back.
	MaxOffsets int64
	Horizon    time.Time
	Stats      Stats
}

// historyTopic is one topic history reads and how its records relate to the
// entity.
type historyTopic struct {
	name  string
	stage int // sort tie-break: domain 0, derived 1, handler 2
}

// Run returns the entity's records in time order: every record keyed by the
// entity in the domain and derived topics keyed by its field, its handler
// deliveries, and — for inherited account events — the parent customer or
// product events, each with its lineage in Entry.Cause. Of each topic it
// reads only the partition the entity's key hashes to.
func (h *History) Run(ctx context.Context, dial Dial, ent Entity) ([]Entry, error) {
	start := time.Now()
	defer func() { h.Stats.Elapsed = time.Since(start) }()
	adm, closeAdm, err := admin(dial)
	if err != nil {
		return nil, err
	}
	defer closeAdm()

	var cands []historyTopic
	for _, d := range h.Catalog.Domains() {
		if d.Key == ent.Field {
			cands = append(cands, historyTopic{h.Namespace.Topic(d.Topic), 0})
		}
	}
	for _, d := range h.Catalog.Derived() {
		if d.Key == ent.Field {
			cands = append(cands, historyTopic{h.Namespace.Topic(d.Topic), 1})
		}
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("no topic is keyed by %s", ent.Field)
	}
	for _, t := range h.Catalog.HandlerTopics() {
		cands = append(cands, historyTopic{h.Namespace.Topic(t), 2})
	}
	stage := map[string]int{}
	for _, c := range cands {
		stage[c.name] = c.stage
	}
	entries, horizon, err := h.read(ctx, dial, adm, cands, ent, h.Window, func(ev *schemas.Event, topic string) bool {
		if stage[topic] == 2 && !h.deliveredFor(ev, ent) {
			return false
		}
		return h.Filter == nil || h.Filter.Match(ev)
	})
	if err != nil {
		return nil, err
	}
	if h.Horizon = horizon; !horizon.IsZero() {
		kept := entries[:0]
		for _, e := range entries {
			if !e.Record.Timestamp.Before(horizon) {
				kept = append(kept, e)
			}
		}
		entries = kept
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%w: no records for %s in %s", ErrEmptyWindow, ent, h.Window)
	}
	parents, err := h.parents(ctx, dial, adm, entries)
	if err != nil {
		return nil, err
	}
	entries = append(entries, parents...)
	lineage(h.Namespace, entries)
	sort.SliceStable(entries, func(i, j int) bool {
		a, b := entries[i].Record, entries[j].Record
		if !a.Timestamp.Equal(b.Timestamp) {
			return a.Timestamp.Before(b.Timestamp)
		}
		if sa, sb := stage[a.Topic], stage[b.Topic]; sa != sb {
			return sa < sb
		}
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		return a.Offset < b.Offset
	})
	h.Stats.Matched = int64(len(entries))
	return entries, nil
}

// deliveredFor reports whether a handler record is a delivery about ent:
// handler topics mix entities whose keys may look alike (account 42 and
// customer 42), so the key must have come from ent's field. The router keys
// inherited events by i_account and every other by its domain's key.
func (h *History) deliveredFor(ev *schemas.Event, ent Entity) bool {
	field := "i_account"
	if ev.Origin != schemas.OriginInherited {
		d, ok := h.Catalog.DomainOf(ev.EventType)
		if !ok {
			return false
		}
		field = d.Key
	}
	v, ok := ev.Key(field)
	return ok && field == ent.Field && v == ent.Value
}

// read reads, of each existing topic in cands, the partition ent's key
// hashes to within w, and returns copies of the events keep accepts.
// Topics the cluster does not have (an unprovisioned handler) are skipped.
// With MaxOffsets it reads each partition's newest MaxOffsets offsets only
// and returns the horizon: the latest first timestamp among the cut
// partitions (zero when none was cut).
func (h *History) read(ctx context.Context, dial Dial, adm *kadm.Client, cands []historyTopic, ent Entity, w Window, keep func(*schemas.Event, string) bool) ([]Entry, time.Time, error) {
	names := make([]string, len(cands))
	for i, c := range cands {
		names[i] = c.name
	}
	tds, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("list topics: %w", err)
	}
	key := []byte(ent.Value)
	parts := map[string][]int32{}
	var topics []string
	for _, n := range names {
		td, ok := tds[n]
		if !ok || td.Err != nil || len(td.Partitions) == 0 {
			continue
		}
		parts[n] = []int32{KeyPartition(key, len(td.Partitions))}
		topics = append(topics, n)
	}
	if len(topics) == 0 {
		return nil, time.Time{}, fmt.Errorf("%w: none of %v exists", ErrUnknownTopic, names)
	}
	ranges, err := Plan(ctx, adm, topics, w, parts)
	if err != nil {
		return nil, time.Time{}, err
	}
	cut := map[string]bool{} // topic → its (one) partition was cut, first record not seen yet
	if h.MaxOffsets > 0 {
		for i := range ranges {
			if r := &ranges[i]; r.Len() > h.MaxOffsets {
				r.Start = r.End - h.MaxOffsets
				cut[r.Topic] = true
			}
		}
	}
	var horizon time.Time
	var out []Entry
	err = Read(ctx, dial, ranges, nil, func(r *kgo.Record) error {
		if cut[r.Topic] {
			delete(cut, r.Topic)
			if r.Timestamp.After(horizon) {
				horizon = r.Timestamp
			}
		}
		if !bytes.Equal(r.Key, key) || !w.Contains(r.Timestamp) {
			return nil
		}
		h.Stats.Read++
		ev := new(schemas.Event)
		if _, err := h.Codec.Decode(ctx, r.Value, ev); err != nil {
			h.Stats.Undecodable++
			return nil
		}
		if keep(ev, r.Topic) {
			out = append(out, Entry{Record: r, Event: ev})
		}
		return nil
	})
	return out, horizon, err
}
