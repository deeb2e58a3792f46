package webhook

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/provbus/provbus/schemas"
)

// idOrder is every typed id of every source, each name once, sorted: the
// order of the body's "ids" object.
var idOrder = func() []schemas.IDField {
	var all []schemas.IDField
	for _, src := range schemas.Sources {
		for _, f := range schemas.IDFields(src) {
			if !slices.ContainsFunc(all, func(g schemas.IDField) bool { return g.Name == f.Name }) {
				all = append(all, f)
			}
		}
	}
	slices.SortFunc(all, func(a, b schemas.IDField) int { return cmp.Compare(a.Name, b.Name) })
	return all
}()

// AppendEventBody appends to dst the body of attempt for ev, read from the
// topic of handler under key, with state (nil: none): the bytes of
// NewBody(handler, key, ev, attempt) with State set, then Marshal
// (TestEventBodyLikeMarshal), written straight from ev. Delivery's hot
// path: no Body, no map of ids, no time strings, a reused buffer. On error
// dst is returned as it was.
func AppendEventBody(dst []byte, handler, key string, ev *schemas.Event, attempt int, state json.RawMessage) ([]byte, error) {
	size := 384 + len(ev.Payload) + len(state)
	for k, v := range ev.Attributes {
		size += len(k) + len(v) + 6
	}
	out := slices.Grow(dst, size)
	out = appendField(out, "{", "event_id", ev.EventID)
	out = appendField(out, ",", "handler", handler)
	out = appendField(out, ",", "event_type", ev.EventType)
	out = appendField(out, ",", "origin", ev.Origin)
	out = appendNullable(out, "inherited_from", ev.InheritedFrom)
	out = appendNullable(out, "parent_event_id", ev.ParentEventID)
	out = appendField(out, ",", "source", ev.Source)
	if ev.Instance != nil {
		out = appendField(out, ",", "instance", *ev.Instance)
	}
	out = appendTime(out, "occurred_at", ev.OccurredAt)
	out = appendTime(out, "received_at", ev.ReceivedAt)
	out = appendField(out, ",", "key", key)
	out = append(out, `,"ids":`...)
	sep := byte('{')
	for _, f := range idOrder {
		if !f.Long {
			if v, ok := ev.Key(f.Name); ok { // a string id: no allocation
				out = append(out, sep)
				out = appendString(out, f.Name)
				out = append(out, ':')
				out = appendString(out, v)
				sep = ','
			}
			continue
		}
		n := len(out)
		out = append(out, sep)
		out = appendString(out, f.Name)
		out = append(out, ':')
		var ok bool
		if out, ok = ev.AppendKey(out, f.Name); ok {
			sep = ','
		} else {
			out = out[:n]
		}
	}
	if sep == '{' {
		out = append(out, '{')
	}
	out = append(out, `},"attributes":{`...)
	if len(ev.Attributes) > 0 {
		var buf [32]string // most events have fewer: no allocation to sort
		keys := buf[:0]
		for k := range ev.Attributes {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				out = append(out, ',')
			}
			out = appendString(out, k)
			out = append(out, ':')
			out = appendString(out, ev.Attributes[k])
		}
	}
	out = append(out, `},"data":`...)
	var err error
	if out, err = appendCompact(out, []byte(ev.Payload)); err != nil {
		out = appendString(out, ev.Payload)
	}
	if len(state) > 0 {
		out = append(out, `,"state":`...)
		if out, err = appendCompact(out, state); err != nil {
			return dst, fmt.Errorf("state: %w", err)
		}
	}
	out = append(out, `,"attempt":`...)
	out = strconv.AppendInt(out, int64(attempt), 10)
	return append(out, '}'), nil
}

// appendTime appends ,"name":"t in UTC, RFC 3339 with nanoseconds": the
// layout writes digits and -:.TZ only, none of which JSON escapes.
func appendTime(dst []byte, name string, t time.Time) []byte {
	dst = append(dst, ',')
	dst = appendString(dst, name)
	dst = append(dst, ':', '"')
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}
