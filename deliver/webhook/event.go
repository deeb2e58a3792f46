package webhook

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/provbus/provbus/internal/jsonstr"
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
				all = append(all, idField{field: f.Name, name: string(jsonstr.Append(nil, f.Name)) + ":", long: f.Long, get: schemas.IDGetter(f.Name)})
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
// that is not JSON goes as a string (TestEventBodyLikeEncodingJSON). No
// Body, no map of ids, no time strings, a reused buffer. On error dst is
// returned as it was.
func AppendEventBody(dst []byte, handler, key string, ev *schemas.Event, attempt int, state json.RawMessage) ([]byte, error) {
	var f fields[string]
	f.strs[sEventID], f.strs[sEventType], f.strs[sOrigin] = ev.EventID, ev.EventType, ev.Origin
	f.strs[sSource], f.strs[sPayload] = ev.Source, ev.Payload
	f.setOptional(sInheritedFrom, ev.InheritedFrom)
	f.setOptional(sParentEventID, ev.ParentEventID)
	f.setOptional(sInstance, ev.Instance)
	f.times[tOccurred], f.times[tReceived] = ev.OccurredAt, ev.ReceivedAt
	for i, id := range idOrder {
		switch n, str := id.get(ev); {
		case n != nil:
			f.longs[i], f.hasLong[i] = *n, true
		case str != nil:
			f.setOptional(sIDs+i, str)
		}
	}
	var buf [32][2]string // most events have fewer: no allocation
	attrs := buf[:0]
	for k, v := range ev.Attributes {
		attrs = append(attrs, [2]string{k, v})
	}
	slices.SortFunc(attrs, func(x, y [2]string) int { return cmp.Compare(x[0], y[0]) })
	out, err := appendEnd(appendBody(dst, handler, key, &f, attrs), state, attempt)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// fields are one body's values, from an Event (T string) or straight from
// an Avro value (T []byte, AvroBody): appendBody writes both the same way.
type fields[T string | []byte] struct {
	// strs are the named strings by slot (sEventID…), then the string
	// ids (sIDs + their place in idOrder); has says which optional ones
	// are present.
	strs [sIDs + maxIDs]T
	has  [sIDs + maxIDs]bool
	// longs are the numeric ids, by their place in idOrder.
	longs   [maxIDs]int64
	hasLong [maxIDs]bool
	times   [2]time.Time // tOccurred, tReceived
}

// The slots of fields.strs and fields.times.
const (
	sEventID = iota
	sSource
	sEventType
	sOrigin
	sParentEventID
	sInheritedFrom
	sInstance
	sPayload
	sIDs // the first string id
)

const (
	tOccurred = iota
	tReceived
)

// maxIDs bounds the typed ids (15 today; checked at start).
const maxIDs = 16

func init() {
	if len(idOrder) > maxIDs {
		panic("webhook: more typed ids than maxIDs")
	}
}

func (f *fields[T]) setOptional(slot int, v *T) {
	if v != nil {
		f.strs[slot], f.has[slot] = *v, true
	}
}

// appendBody appends the body's fields up to data, with the attributes
// attrs (sorted by key), the one place their order and form are written;
// appendEnd ends it.
func appendBody[T string | []byte](dst []byte, handler, key string, f *fields[T], attrs [][2]T) []byte {
	size := 384 + len(f.strs[sPayload])
	for _, kv := range attrs {
		size += len(kv[0]) + len(kv[1]) + 6
	}
	out := slices.Grow(dst, size)
	// Field names are written as literals: they need no escaping.
	out = jsonstr.Append(append(out, `{"event_id":`...), f.strs[sEventID])
	out = jsonstr.Append(append(out, `,"handler":`...), handler)
	out = jsonstr.Append(append(out, `,"event_type":`...), f.strs[sEventType])
	out = jsonstr.Append(append(out, `,"origin":`...), f.strs[sOrigin])
	out = f.appendOptional(append(out, `,"inherited_from":`...), sInheritedFrom)
	out = f.appendOptional(append(out, `,"parent_event_id":`...), sParentEventID)
	out = jsonstr.Append(append(out, `,"source":`...), f.strs[sSource])
	if f.has[sInstance] {
		out = jsonstr.Append(append(out, `,"instance":`...), f.strs[sInstance])
	}
	out = jsonstr.AppendTime(append(out, `,"occurred_at":`...), f.times[tOccurred])
	out = jsonstr.AppendTime(append(out, `,"received_at":`...), f.times[tReceived])
	out = jsonstr.Append(append(out, `,"key":`...), key)
	out = append(out, `,"ids":`...)
	sep := byte('{')
	for i, id := range idOrder {
		switch {
		case f.hasLong[i]:
			out = strconv.AppendInt(append(append(out, sep), id.name...), f.longs[i], 10)
		case f.has[sIDs+i]:
			out = jsonstr.Append(append(append(out, sep), id.name...), f.strs[sIDs+i])
		default:
			continue
		}
		sep = ','
	}
	if sep == '{' {
		out = append(out, '{')
	}
	out = append(out, `},"attributes":{`...)
	for i, kv := range attrs {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(jsonstr.Append(out, kv[0]), ':')
		out = jsonstr.Append(out, kv[1])
	}
	out = append(out, `},"data":`...)
	var err error
	if out, err = appendCompact(out, []byte(f.strs[sPayload])); err != nil {
		out = jsonstr.Append(out, f.strs[sPayload])
	}
	return out
}

func (f *fields[T]) appendOptional(dst []byte, slot int) []byte {
	if !f.has[slot] {
		return append(dst, "null"...)
	}
	return jsonstr.Append(dst, f.strs[slot])
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
