package portabilling

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/provbus/provbus/producers/edge"
	"github.com/provbus/provbus/schemas"
)

// parseFast parses the element ESPF actually sends — a plain event_type
// string, a variables object with plain keys, ids as integers or numeric
// strings, an i_event and a well-formed event_time — in one scan, with the
// attribute keys and values sliced from the event's Payload instead of
// allocated one by one. It returns false, having decided nothing, for
// anything else (a problem to report, an escaped or case-folded key, a
// missing i_event to hash), and parseGeneral takes the element from the
// start. FuzzFastMatchesGeneral holds the two to the same events.
func parseFast(raw json.RawMessage, received time.Time) (schemas.Event, bool) {
	var stack [24]edge.Member // ESPF elements carry a dozen variables: no heap
	top, ok := edge.Members(stack[:0], raw)
	if !ok {
		return schemas.Event{}, false
	}
	var typ, vars span
	for _, m := range top {
		key := raw[m.KeyStart:m.KeyEnd]
		switch {
		case !m.PlainKey:
			return schemas.Event{}, false
		case string(key) == "event_type":
			typ = span{m.ValStart, m.ValEnd}
		case string(key) == "variables":
			vars = span{m.ValStart, m.ValEnd}
		case bytes.EqualFold(key, []byte("event_type")) || bytes.EqualFold(key, []byte("variables")):
			// encoding/json matches struct fields case-insensitively.
			return schemas.Event{}, false
		}
	}
	if inner, ok := edge.PlainString(typ.of(raw)); !ok || len(inner) == 0 || vars.end == 0 || raw[vars.start] != '{' {
		return schemas.Event{}, false
	}
	members, ok := edge.Members(top[:0], vars.of(raw))
	if !ok {
		return schemas.Event{}, false
	}

	// Every string below is a substring of payload: one allocation for
	// the element's text serves the payload, the event type, and the
	// attribute keys and values.
	payload := string(raw)
	var idAt [len(ids)]span
	var eventIDAt, eventTimeAt, numberAt span
	for i := range members {
		m := &members[i]
		if !m.PlainKey {
			return schemas.Event{}, false
		}
		// Offsets into the element, not into variables.
		m.KeyStart, m.KeyEnd = m.KeyStart+vars.start, m.KeyEnd+vars.start
		m.ValStart, m.ValEnd = m.ValStart+vars.start, m.ValEnd+vars.start
		// In document order, so the last of duplicate keys wins, as in
		// encoding/json's map.
		at := span{m.ValStart, m.ValEnd}
		switch key := payload[m.KeyStart:m.KeyEnd]; key {
		case "i_event":
			eventIDAt = at
		case "event_time":
			eventTimeAt = at
		case "number":
			numberAt = at
		default:
			for j := range ids {
				if ids[j].name == key {
					idAt[j] = at
					break
				}
			}
		}
	}

	eventID, present, ok := text(payload, raw, eventIDAt)
	if !ok || !present {
		return schemas.Event{}, false
	}
	eventTime, hasTime, ok := text(payload, raw, eventTimeAt)
	if !ok || (hasTime && payload[eventTimeAt.start] != '"') {
		return schemas.Event{}, false
	}
	number, hasNumber, ok := text(payload, raw, numberAt)
	if !ok {
		return schemas.Event{}, false
	}
	var occurred *time.Time
	if hasTime {
		at, ok := edge.ParseTime(eventTime, timeLayouts...)
		if !ok {
			return schemas.Event{}, false
		}
		occurred = &at
	}
	ev := edge.Direct(Name, received, occurred)
	ev.EventType = payload[typ.start+1 : typ.end-1]
	ev.EventID = eventID
	if hasNumber {
		ev.DIDNumber = &number
	}
	ev.Payload = payload
	// The present ids share one allocation instead of one each.
	var values [len(ids)]int64
	for j, at := range idAt {
		v, present, ok := id(payload, raw, at)
		if !ok {
			return schemas.Event{}, false
		}
		if present {
			values[j] = v
			ids[j].set(&ev, &values[j])
		}
	}
	ev.Attributes = make(map[string]string, len(members))
	for _, m := range members {
		ev.Attributes[payload[m.KeyStart:m.KeyEnd]] = attr(payload, raw, span{m.ValStart, m.ValEnd})
	}
	return ev, true
}

// span is a value's [start, end) in an element; the zero span is "absent"
// (no value starts at 0, where the element's '{' is).
type span struct{ start, end int }

func (s span) of(b []byte) []byte { return b[s.start:s.end] }

// text is edge.Text for a value of payload, without decoding or a
// pointer: present is false for null, absent and "", and ok is false where
// edge.Text would decode an escape or fail.
func text(payload string, raw []byte, at span) (s string, present, ok bool) {
	v := payload[at.start:at.end]
	switch {
	case at.end == 0 || v == "null":
		return "", false, true
	case v[0] == '"':
		if _, ok := edge.PlainString(at.of(raw)); !ok {
			return "", false, false
		}
		return v[1 : len(v)-1], len(v) > 2, true
	case v[0] == '{' || v[0] == '[' || v[0] == 't' || v[0] == 'f':
		return "", false, false
	}
	return v, true, true
}

// id is edge.ID for a value of payload: ok is false where edge.ID would
// decode an escape or fail.
func id(payload string, raw []byte, at span) (n int64, present, ok bool) {
	s, present, ok := text(payload, raw, at)
	if !ok || !present {
		return 0, false, ok
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, false
	}
	return n, true, true
}

// attr is edge.AttrValue for a value of payload: plain strings and numbers
// are substrings, the rest (objects, escapes) is decoded.
func attr(payload string, raw []byte, at span) string {
	v := at.of(raw)
	if _, ok := edge.PlainString(v); ok {
		return payload[at.start+1 : at.end-1]
	}
	if edge.IsNumber(v) || string(v) == "true" || string(v) == "false" || string(v) == "null" {
		return payload[at.start:at.end]
	}
	return edge.AttrValue(v)
}
