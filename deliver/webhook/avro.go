package webhook

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
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
	// optional: the type is ["null", read's type]; null leaves the slot
	// absent.
	optional bool
	slot     int
	// symbols are an enum's.
	symbols [][]byte
}

type readKind int

const (
	readString    readKind = iota // string → strs[slot]
	readLong                      // long → longs[slot] (the ids)
	readInt                       // int, not in the body
	readMillis                    // timestamp-millis → times[slot]
	readBool                      // boolean, not in the body
	readEnum                      // enum → strs[slot], a symbol
	readStringMap                 // map of strings: the attributes
)

// named are the event fields the body shows, besides the ids and the
// attributes, by Avro name: how each must be written, and its slot.
var named = map[string]avroField{
	"event_id":        {read: readString, slot: sEventID},
	"source":          {read: readString, slot: sSource},
	"event_type":      {read: readString, slot: sEventType},
	"origin":          {read: readEnum, slot: sOrigin},
	"parent_event_id": {read: readString, optional: true, slot: sParentEventID},
	"inherited_from":  {read: readEnum, optional: true, slot: sInheritedFrom},
	"instance":        {read: readString, optional: true, slot: sInstance},
	"payload":         {read: readString, slot: sPayload},
	"occurred_at":     {read: readMillis, slot: tOccurred},
	"received_at":     {read: readMillis, slot: tReceived},
	// Read past: the body does not show them.
	"occurred_at_estimated": {read: readBool},
	"fan_out_index":         {read: readInt, optional: true},
	"fan_out_count":         {read: readInt, optional: true},
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
		if !ok || seen[f.Name()] || !typeFits(af, f.Type()) {
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
				return avroField{read: readLong, optional: true, slot: i}, true
			}
			return avroField{read: readString, optional: true, slot: sIDs + i}, true
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

// typeFits reports whether a field of type t can be read as f says.
func typeFits(f avroField, t avro.Schema) bool {
	if f.optional {
		u, ok := t.(*avro.UnionSchema)
		if !ok || len(u.Types()) != 2 || u.Types()[0].Type() != avro.Null {
			return false
		}
		t = u.Types()[1]
	}
	switch f.read {
	case readString:
		return t.Type() == avro.String && !hasLogical(t)
	case readLong:
		return t.Type() == avro.Long && !hasLogical(t)
	case readInt:
		return t.Type() == avro.Int && !hasLogical(t)
	case readMillis:
		p, ok := t.(*avro.PrimitiveSchema)
		return ok && p.Type() == avro.Long && p.Logical() != nil && p.Logical().Type() == avro.TimestampMillis
	case readBool:
		return t.Type() == avro.Boolean
	case readEnum:
		return t.Type() == avro.Enum
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

// maxAttributes bounds the attributes AvroBody sorts on the stack; an
// event with more is decoded instead.
const maxAttributes = 32

// Append appends to dst the body of attempt for the Avro value v (the
// record's value after the 5-byte wire header), read from the topic of
// handler under key, with the state that state appends for the record's
// Summary, compact JSON (state nil: none). It returns the body and the
// Summary; on error (errAvro: decode instead) dst is returned as it was.
func (a *AvroBody) Append(dst []byte, handler, key string, v []byte, attempt int, state func(dst []byte, sum Summary) []byte) ([]byte, Summary, error) {
	var f fields[[]byte]
	var attrs [maxAttributes][2][]byte // on the stack: read fills it by index
	n, err := a.read(&f, &attrs, v)
	if err != nil {
		return dst, Summary{}, err
	}
	// Attributes in key order, as encoding/json writes a map; the decoder
	// keeps the last of equal keys, which no writer of ours sends: decode.
	sorted := attrs[:n]
	slices.SortFunc(sorted, func(x, y [2][]byte) int { return bytes.Compare(x[0], y[0]) })
	for i := 1; i < len(sorted); i++ {
		if bytes.Equal(sorted[i-1][0], sorted[i][0]) {
			return dst, Summary{}, errAvro
		}
	}
	out := appendBody(dst, handler, key, &f, sorted)
	sum := Summary{EventID: f.strs[sEventID], EventType: f.strs[sEventType],
		IAccount: f.longs[accountSlot], HasAccount: f.hasLong[accountSlot]}
	if state != nil {
		out = state(append(out, `,"state":`...), sum)
	}
	out, _ = appendEnd(out, nil, attempt) // no state to check
	return out, sum, nil
}

// accountSlot is i_account's place in idOrder.
var accountSlot = slices.IndexFunc(idOrder, func(f idField) bool { return f.field == "i_account" })

// read reads v field by field into f, the attributes into attrs; it
// returns how many attributes it read.
func (a *AvroBody) read(f *fields[[]byte], attrs *[maxAttributes][2][]byte, v []byte) (int, error) {
	nattrs := 0
	var n int64
	var ok bool
	for _, fd := range a.fields {
		if fd.optional { // a union's branch: 0 null, 1 the value
			if n, v, ok = readAvroInt(v); !ok || n < 0 || n > 1 {
				return 0, errAvro
			}
			if n == 0 {
				continue
			}
		}
		switch fd.read {
		case readString:
			if f.strs[fd.slot], v, ok = readBytes(v); !ok {
				return 0, errAvro
			}
			f.has[fd.slot] = true
		case readLong:
			if f.longs[fd.slot], v, ok = readVarint(v); !ok {
				return 0, errAvro
			}
			f.hasLong[fd.slot] = true
		case readInt:
			if _, v, ok = readAvroInt(v); !ok {
				return 0, errAvro
			}
		case readMillis:
			if n, v, ok = readVarint(v); !ok {
				return 0, errAvro
			}
			f.times[fd.slot] = time.UnixMilli(n)
		case readBool:
			if len(v) == 0 || v[0] > 1 {
				return 0, errAvro
			}
			v = v[1:]
		case readEnum:
			if n, v, ok = readAvroInt(v); !ok || n < 0 || n >= int64(len(fd.symbols)) {
				return 0, errAvro
			}
			f.strs[fd.slot], f.has[fd.slot] = fd.symbols[n], true
		case readStringMap:
			var err error
			if nattrs, v, err = readAttributes(attrs, v); err != nil {
				return 0, err
			}
		}
	}
	return nattrs, nil
}

// readAttributes reads a map of strings into attrs: blocks of entries, a
// negative count followed by the block's size in bytes, up to an empty
// block. It returns how many entries it read.
func readAttributes(attrs *[maxAttributes][2][]byte, v []byte) (int, []byte, error) {
	n := 0
	for {
		count, rest, ok := readVarint(v)
		if !ok {
			return 0, v, errAvro
		}
		v = rest
		if count == 0 {
			return n, v, nil
		}
		if count < 0 {
			if count = -count; count < 0 { // the most negative long
				return 0, v, errAvro
			}
			if _, v, ok = readVarint(v); !ok {
				return 0, v, errAvro
			}
		}
		for range count {
			if n == maxAttributes {
				return 0, v, errAvro // more than it sorts on the stack: decode
			}
			kv := &attrs[n]
			if kv[0], v, ok = readBytes(v); !ok {
				return 0, v, errAvro
			}
			if kv[1], v, ok = readBytes(v); !ok {
				return 0, v, errAvro
			}
			n++
		}
	}
}

// readAvroInt reads an Avro int: a zig-zag varint of at most 5 bytes that
// fits 32 bits. hamba/avro reads no more than 5 bytes for an int (union
// branches and enum symbols are ints): a longer encoding, valid as a long,
// is not the same value to it.
func readAvroInt(v []byte) (int64, []byte, bool) {
	n, k := binary.Varint(v)
	if k <= 0 || k > 5 || n != int64(int32(n)) {
		return 0, v, false
	}
	return n, v[k:], true
}

// readVarint reads a zig-zag varint, Avro's long.
func readVarint(v []byte) (int64, []byte, bool) {
	n, k := binary.Varint(v)
	if k <= 0 {
		return 0, v, false
	}
	return n, v[k:], true
}

// maxString is hamba/avro's default MaxByteSliceSize: a longer string is
// the decoder's to refuse.
const maxString = 1 << 20

// readBytes reads a length-prefixed string.
func readBytes(v []byte) ([]byte, []byte, bool) {
	n, rest, ok := readVarint(v)
	if !ok || n < 0 || n > maxString || n > int64(len(rest)) {
		return nil, v, false
	}
	return rest[:n:n], rest[n:], true
}
