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
// order of the body's "ids" object. name is the JSON of the name and a
// colon, get reads the id.
var idOrder = func() []idField {
	var all []idField
	for _, src := range schemas.Sources {
		for _, f := range schemas.IDFields(src) {
			if !slices.ContainsFunc(all, func(g idField) bool { return g.field == f.Name }) {
				all = append(all, idField{field: f.Name, name: string(appendString(nil, f.Name)) + ":", long: f.Long, get: schemas.IDGetter(f.Name)})
			}
		}
	}
	slices.SortFunc(all, func(a, b idField) int { return cmp.Compare(a.field, b.field) })
	return all
}()

// idField is one typed id as the body writes it.
type idField struct {
	field, name string
	long        bool
	get         func(*schemas.Event) (*int64, *string)
}

// AppendEventBody appends to dst the body of attempt for ev, read from the
// topic of handler under key, with state (nil: none): the bytes
// encoding/json writes for NewBody(handler, key, ev, attempt) with State
// set, except that data is compacted without HTML escaping and a payload
// that is not JSON goes as a string (TestEventBodyLikeEncodingJSON),
// written straight from ev. Delivery's hot path: no Body, no map of ids,
// no time strings, a reused buffer. On error dst is returned as it was.
func AppendEventBody(dst []byte, handler, key string, ev *schemas.Event, attempt int, state json.RawMessage) ([]byte, error) {
	size := 384 + len(ev.Payload) + len(state)
	for k, v := range ev.Attributes {
		size += len(k) + len(v) + 6
	}
	out := slices.Grow(dst, size)
	// Field names are written as literals: they need no escaping.
	out = appendString(append(out, `{"event_id":`...), ev.EventID)
	out = appendString(append(out, `,"handler":`...), handler)
	out = appendString(append(out, `,"event_type":`...), ev.EventType)
	out = appendString(append(out, `,"origin":`...), ev.Origin)
	out = appendOptional(append(out, `,"inherited_from":`...), ev.InheritedFrom)
	out = appendOptional(append(out, `,"parent_event_id":`...), ev.ParentEventID)
	out = appendString(append(out, `,"source":`...), ev.Source)
	if ev.Instance != nil {
		out = appendString(append(out, `,"instance":`...), *ev.Instance)
	}
	out = appendTime(append(out, `,"occurred_at":`...), ev.OccurredAt)
	out = appendTime(append(out, `,"received_at":`...), ev.ReceivedAt)
	out = appendString(append(out, `,"key":`...), key)
	out = append(out, `,"ids":`...)
	sep := byte('{')
	for _, f := range idOrder {
		n, str := f.get(ev)
		if n == nil && str == nil {
			continue
		}
		out = append(out, sep)
		out = append(out, f.name...)
		if n != nil {
			out = strconv.AppendInt(out, *n, 10)
		} else {
			out = appendString(out, *str)
		}
		sep = ','
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
	if out, err = appendEnd(out, state, attempt); err != nil {
		return dst, err
	}
	return out, nil
}

// appendEnd ends a body: the state (none when empty) and the attempt.
func appendEnd(out, state []byte, attempt int) ([]byte, error) {
	if len(state) > 0 {
		var err error
		out = append(out, `,"state":`...)
		if out, err = appendCompact(out, state); err != nil {
			return out, fmt.Errorf("state: %w", err)
		}
	}
	out = append(out, `,"attempt":`...)
	out = strconv.AppendInt(out, int64(attempt), 10)
	return append(out, '}'), nil
}

// appendOptional appends the JSON string *v, or null.
func appendOptional(dst []byte, v *string) []byte {
	if v == nil {
		return append(dst, "null"...)
	}
	return appendString(dst, *v)
}

// appendTime appends "t in UTC, RFC 3339 with nanoseconds": the layout
// writes digits and -:.TZ only, none of which JSON escapes.
func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}
