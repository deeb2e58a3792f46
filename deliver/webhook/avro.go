package webhook

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/hamba/avro/v2"
)

// AvroBody writes bodies straight from the Avro values of handler records
// written with one writer schema: the body AppendEventBody writes for the
// decoded event, without decoding it (no Event, no strings, no map: the
// decode's allocations were most of delivery's own cost, BENCHMARKS.md).
// It knows every field of the event schema by name and type; a writer
// schema with a field it does not know gets no AvroBody (NewAvroBody
// returns nil) and its records are decoded as before. Any value it cannot
// read is left to the decoder too, which has the last word on poison
// (FuzzAvroBody holds the two paths to the same bytes and verdicts).
type AvroBody struct {
	fields []avroField // in the writer's order
}

// avroField is one field of the writer schema: how to read it, and where
// its value goes.
type avroField struct {
	read readKind
	slot int
	// symbols are an enum's, for the enum kinds.
	symbols [][]byte
}

type readKind int

const (
	readString    readKind = iota // string → strs[slot]
	readOptString                 // ["null","string"] → strs[slot] or absent
	readOptLong                   // ["null","long"] → longs[slot] or absent
	readOptInt                    // ["null","int"], not in the body
	readMillis                    // timestamp-millis → times[slot]
	readBool                      // boolean, not in the body
	readEnum                      // enum → strs[slot], a symbol
	readOptEnum                   // ["null", enum] → strs[slot] or absent
	readStringMap                 // map of strings: the attributes
)

// The value slots of one record: strings (the ids' slots follow the named
// ones, in idOrder), numbers (ids, in idOrder) and times.
const (
	sEventID = iota
	sSource
	sEventType
	sOrigin
	sParentEventID
	sInheritedFrom
	sInstance
	sPayload
	sIDs // first id slot
)

const (
	tOccurred = iota
	tReceived
)

// named are the event fields the body shows, besides the ids and the
// attributes, by Avro name: how each must be written, and its slot.
var named = map[string]avroField{
	"event_id":        {read: readString, slot: sEventID},
	"source":          {read: readString, slot: sSource},
	"event_type":      {read: readString, slot: sEventType},
	"origin":          {read: readEnum, slot: sOrigin},
	"parent_event_id": {read: readOptString, slot: sParentEventID},
	"inherited_from":  {read: readOptEnum, slot: sInheritedFrom},
	"instance":        {read: readOptString, slot: sInstance},
	"payload":         {read: readString, slot: sPayload},
	"occurred_at":     {read: readMillis, slot: tOccurred},
	"received_at":     {read: readMillis, slot: tReceived},
	// Read past: the body does not show them.
	"occurred_at_estimated": {read: readBool},
	"fan_out_index":         {read: readOptInt},
	"fan_out_count":         {read: readOptInt},
	"attributes":            {read: readStringMap},
}

// NewAvroBody returns the body writer for records of writer schema s, or
// nil when s is not an event schema whose every field it knows, with the
// type it expects.
func NewAvroBody(s avro.Schema) *AvroBody {
	rec, ok := s.(*avro.RecordSchema)
	if !ok {
		return nil
	}
	a := &AvroBody{}
	seen := map[string]bool{}
	for _, f := range rec.Fields() {
		af, ok := fieldFor(f.Name())
		if !ok || seen[f.Name()] || !typeFits(af.read, f.Type()) {
			return nil
		}
		seen[f.Name()] = true
		switch t := f.Type().(type) {
		case *avro.EnumSchema:
			af.symbols = byteStrings(t.Symbols())
		case *avro.UnionSchema:
			if e, ok := t.Types()[1].(*avro.EnumSchema); ok {
				af.symbols = byteStrings(e.Symbols())
			}
		}
		a.fields = append(a.fields, af)
	}
	// The fields every body shows must be there; optional ones may not be
	// (an older writer: absent is null, as the decoder has it).
	for _, name := range []string{"event_id", "source", "event_type", "origin", "payload", "occurred_at", "received_at"} {
		if !seen[name] {
			return nil
		}
	}
	return a
}

// fieldFor returns how to read the field called name: a named field, or a
// typed id.
func fieldFor(name string) (avroField, bool) {
	if f, ok := named[name]; ok {
		return f, true
	}
	for i, id := range idOrder {
		if id.field == name {
			if id.long {
				return avroField{read: readOptLong, slot: i}, true
			}
			return avroField{read: readOptString, slot: sIDs + i}, true
		}
	}
	return avroField{}, false
}

func byteStrings(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// typeFits reports whether a field of type t can be read as kind k.
func typeFits(k readKind, t avro.Schema) bool {
	optional := func(want avro.Type) bool {
		u, ok := t.(*avro.UnionSchema)
		return ok && len(u.Types()) == 2 && u.Types()[0].Type() == avro.Null && u.Types()[1].Type() == want &&
			!hasLogical(u.Types()[1])
	}
	switch k {
	case readString:
		return t.Type() == avro.String && !hasLogical(t)
	case readOptString:
		return optional(avro.String)
	case readOptLong:
		return optional(avro.Long)
	case readOptInt:
		return optional(avro.Int)
	case readMillis:
		p, ok := t.(*avro.PrimitiveSchema)
		return ok && p.Type() == avro.Long && p.Logical() != nil && p.Logical().Type() == avro.TimestampMillis
	case readBool:
		return t.Type() == avro.Boolean
	case readEnum:
		return t.Type() == avro.Enum
	case readOptEnum:
		return optional(avro.Enum)
	case readStringMap:
		m, ok := t.(*avro.MapSchema)
		return ok && m.Values().Type() == avro.String && !hasLogical(m.Values())
	}
	return false
}

func hasLogical(s avro.Schema) bool {
	p, ok := s.(*avro.PrimitiveSchema)
	return ok && p.Logical() != nil
}

// errAvro is any value AvroBody cannot read; the caller decodes instead.
var errAvro = errors.New("avro body: value not readable, decode it")

// Summary is what the caller needs from a record besides its body. Its
// slices point into the record's value.
type Summary struct {
	EventID, EventType []byte
	// IAccount is the account id when HasAccount.
	IAccount   int64
	HasAccount bool
}

const (
	// maxAttributes bounds the attributes AvroBody sorts on the stack; an
	// event with more is decoded instead.
	maxAttributes = 32
	// maxIDs bounds the typed ids (15 today; checked at start).
	maxIDs = 16
)

// record is one value read: each slot's bytes and whether it is present,
// the ids' numbers, the times and the attributes.
type record struct {
	strs    [sIDs + maxIDs][]byte
	has     [sIDs + maxIDs]bool
	longs   [maxIDs]int64
	hasLong [maxIDs]bool
	times   [2]int64
	attrs   [maxAttributes][2][]byte
	nattrs  int
}

func init() {
	if len(idOrder) > maxIDs {
		panic("webhook: more typed ids than maxIDs")
	}
}

// Append appends to dst the body of attempt for the Avro value v (the
// record's value after the 5-byte wire header), read from the topic of
// handler under key, with the state that state appends for the record's
// Summary, compact JSON (state nil: none). It returns the body and the
// Summary; on error (errAvro: decode instead) dst is returned as it was.
func (a *AvroBody) Append(dst []byte, handler, key string, v []byte, attempt int, state func(dst []byte, sum Summary) []byte) ([]byte, Summary, error) {
	var r record
	if err := a.read(&r, v); err != nil {
		return dst, Summary{}, err
	}
	// Attributes in key order, as encoding/json writes a map; the decoder
	// keeps the last of equal keys, which no writer of ours sends: decode.
	attrs := r.attrs[:r.nattrs]
	slices.SortFunc(attrs, func(x, y [2][]byte) int { return bytes.Compare(x[0], y[0]) })
	for i := 1; i < len(attrs); i++ {
		if bytes.Equal(attrs[i-1][0], attrs[i][0]) {
			return dst, Summary{}, errAvro
		}
	}

	size := 384 + len(r.strs[sPayload])
	for _, kv := range attrs {
		size += len(kv[0]) + len(kv[1]) + 6
	}
	out := slices.Grow(dst, size)
	out = appendString(append(out, `{"event_id":`...), r.strs[sEventID])
	out = appendString(append(out, `,"handler":`...), handler)
	out = appendString(append(out, `,"event_type":`...), r.strs[sEventType])
	out = appendString(append(out, `,"origin":`...), r.strs[sOrigin])
	out = r.appendOptional(append(out, `,"inherited_from":`...), sInheritedFrom)
	out = r.appendOptional(append(out, `,"parent_event_id":`...), sParentEventID)
	out = appendString(append(out, `,"source":`...), r.strs[sSource])
	if r.has[sInstance] {
		out = appendString(append(out, `,"instance":`...), r.strs[sInstance])
	}
	out = appendTime(append(out, `,"occurred_at":`...), time.UnixMilli(r.times[tOccurred]))
	out = appendTime(append(out, `,"received_at":`...), time.UnixMilli(r.times[tReceived]))
	out = appendString(append(out, `,"key":`...), key)
	out = append(out, `,"ids":`...)
	sep := byte('{')
	for i, f := range idOrder {
		switch {
		case f.long && r.hasLong[i]:
			out = strconv.AppendInt(append(append(out, sep), f.name...), r.longs[i], 10)
		case !f.long && r.has[sIDs+i]:
			out = appendString(append(append(out, sep), f.name...), r.strs[sIDs+i])
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
		out = append(appendString(out, kv[0]), ':')
		out = appendString(out, kv[1])
	}
	out = append(out, `},"data":`...)
	var err error
	if out, err = appendCompact(out, r.strs[sPayload]); err != nil {
		out = appendString(out, r.strs[sPayload])
	}
	sum := Summary{EventID: r.strs[sEventID], EventType: r.strs[sEventType],
		IAccount: r.longs[accountSlot], HasAccount: r.hasLong[accountSlot]}
	if state != nil {
		out = state(append(out, `,"state":`...), sum)
	}
	out, _ = appendEnd(out, nil, attempt) // no state to check
	return out, sum, nil
}

// accountSlot is i_account's place in idOrder.
var accountSlot = slices.IndexFunc(idOrder, func(f idField) bool { return f.field == "i_account" })

func (r *record) appendOptional(dst []byte, slot int) []byte {
	if !r.has[slot] {
		return append(dst, "null"...)
	}
	return appendString(dst, r.strs[slot])
}

// read reads v field by field into r.
func (a *AvroBody) read(r *record, v []byte) error {
	var n int64
	var ok bool
	for _, f := range a.fields {
		switch f.read {
		case readString:
			if r.strs[f.slot], v, ok = readBytes(v); !ok {
				return errAvro
			}
			r.has[f.slot] = true
		case readMillis:
			if r.times[f.slot], v, ok = readLong(v); !ok {
				return errAvro
			}
		case readBool:
			if len(v) == 0 || v[0] > 1 {
				return errAvro
			}
			v = v[1:]
		case readEnum:
			if n, v, ok = readLong(v); !ok || n < 0 || n >= int64(len(f.symbols)) {
				return errAvro
			}
			r.strs[f.slot], r.has[f.slot] = []byte(f.symbols[n]), true
		case readOptString, readOptLong, readOptInt, readOptEnum:
			var branch int64
			if branch, v, ok = readLong(v); !ok || branch < 0 || branch > 1 {
				return errAvro
			}
			if branch == 0 {
				continue // null
			}
			switch f.read {
			case readOptString:
				if r.strs[f.slot], v, ok = readBytes(v); !ok {
					return errAvro
				}
				r.has[f.slot] = true
			case readOptLong:
				if r.longs[f.slot], v, ok = readLong(v); !ok {
					return errAvro
				}
				r.hasLong[f.slot] = true
			case readOptInt:
				if n, v, ok = readLong(v); !ok || n != int64(int32(n)) {
					return errAvro
				}
			case readOptEnum:
				if n, v, ok = readLong(v); !ok || n < 0 || n >= int64(len(f.symbols)) {
					return errAvro
				}
				r.strs[f.slot], r.has[f.slot] = []byte(f.symbols[n]), true
			}
		case readStringMap:
			var err error
			if v, err = r.readAttributes(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// readAttributes reads a map of strings: blocks of entries, a negative
// count followed by the block's size in bytes, up to an empty block.
func (r *record) readAttributes(v []byte) ([]byte, error) {
	for {
		count, rest, ok := readLong(v)
		if !ok {
			return v, errAvro
		}
		v = rest
		if count == 0 {
			return v, nil
		}
		if count < 0 {
			if count = -count; count < 0 { // the most negative long
				return v, errAvro
			}
			if _, v, ok = readLong(v); !ok {
				return v, errAvro
			}
		}
		for range count {
			if r.nattrs == maxAttributes {
				return v, errAvro
			}
			kv := &r.attrs[r.nattrs]
			if kv[0], v, ok = readBytes(v); !ok {
				return v, errAvro
			}
			if kv[1], v, ok = readBytes(v); !ok {
				return v, errAvro
			}
			r.nattrs++
		}
	}
}

// readLong reads a zig-zag varint, Avro's int and long.
func readLong(v []byte) (int64, []byte, bool) {
	n, k := binary.Varint(v)
	if k <= 0 {
		return 0, v, false
	}
	return n, v[k:], true
}

// readBytes reads a length-prefixed string.
func readBytes(v []byte) ([]byte, []byte, bool) {
	n, rest, ok := readLong(v)
	if !ok || n < 0 || n > int64(len(rest)) {
		return nil, v, false
	}
	return rest[:n:n], rest[n:], true
}
