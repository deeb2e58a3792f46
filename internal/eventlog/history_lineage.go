package eventlog

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// parents reads the customer and product events the inherited entries were
// derived from. The parent's topic and key come from the catalog's
// inheritance rule for the child's type and inherited_from, so history
// finds them with one partition read per parent entity.
func (h *History) parents(ctx context.Context, dial Dial, adm *kadm.Client, entries []Entry) ([]Entry, error) {
	type where struct{ topic, field, key string }
	want := map[where]map[string]bool{}
	var earliest, latest time.Time
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Event.EventID] = true
	}
	for _, e := range entries {
		ev := e.Event
		if ev.ParentEventID == nil || ev.InheritedFrom == nil || have[*ev.ParentEventID] {
			continue
		}
		for _, rule := range h.Catalog.Inheritances() {
			if rule.To != ev.EventType || rule.Kind != *ev.InheritedFrom {
				continue
			}
			d, ok := h.Catalog.DomainOf(rule.From)
			if !ok {
				continue
			}
			k, ok := ev.Key(d.Key)
			if !ok {
				continue
			}
			w := where{h.Namespace.Topic(d.Topic), d.Key, k}
			if want[w] == nil {
				want[w] = map[string]bool{}
			}
			want[w][*ev.ParentEventID] = true
			ts := e.Record.Timestamp
			if earliest.IsZero() || ts.Before(earliest) {
				earliest = ts
			}
			if ts.After(latest) {
				latest = ts
			}
			break
		}
	}
	var out []Entry
	win := Window{From: earliest.Add(-parentLookback), To: latest.Add(time.Millisecond)}
	for w, ids := range want {
		got, _, err := h.read(ctx, dial, adm, []historyTopic{{w.topic, 0}}, Entity{w.field, w.key}, win,
			func(ev *schemas.Event, _ string) bool { return ids[ev.EventID] })
		if errors.Is(err, ErrEmptyWindow) || errors.Is(err, ErrUnknownTopic) {
			// The parent is outside the lookback or its topic is
			// gone: the child still shows its parent's id.
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// lineage fills each entry's Cause: an inherited event is caused by its
// parent; a handler delivery carries an event unchanged (the router copies
// it), so it is caused by that event and, through it, by the parent.
func lineage(ns topology.Namespace, entries []Entry) {
	for i := range entries {
		e := &entries[i]
		var c []string
		if p := e.Event.ParentEventID; p != nil {
			c = append(c, *p)
		}
		if strings.HasPrefix(e.Record.Topic, ns.Topic(schemas.HandlerTopicPrefix)) {
			c = append(c, e.Event.EventID)
		}
		e.Cause = c
	}
}
