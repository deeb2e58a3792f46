package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/provbus/provbus/schemas"
)

// Body is the JSON a connector receives (docs/deliver.md). Field names are
// a contract with connectors written in other languages.
type Body struct {
	EventID       string  `json:"event_id"`
	Handler       string  `json:"handler"`
	EventType     string  `json:"event_type"`
	Origin        string  `json:"origin"`
	InheritedFrom *string `json:"inherited_from"`
	ParentEventID *string `json:"parent_event_id"`
	Source        string  `json:"source"`
	// Instance is the source installation the event came from
	// (ingest.auth.<source>.instances); absent for the default one.
	Instance   *string           `json:"instance,omitempty"`
	OccurredAt string            `json:"occurred_at"`
	ReceivedAt string            `json:"received_at"`
	Key        string            `json:"key"`
	IDs        map[string]any    `json:"ids"`
	Attributes map[string]string `json:"attributes"`
	// Data is the source's original event JSON, passed through unparsed
	// (whitespace removed); a payload that is not JSON goes as a string.
	Data json.RawMessage `json:"data"`
	// State is what provbus knew of the entity when the body was built
	// (deliver/enrich); left out when the handler's include_state is off.
	State   json.RawMessage `json:"state,omitempty"`
	Attempt int             `json:"attempt"`
}

// NewBody builds the body of attempt for ev, read from the topic of handler
// under key.
func NewBody(handler, key string, ev *schemas.Event, attempt int) Body {
	b := Body{
		EventID: ev.EventID, Handler: handler, EventType: ev.EventType, Origin: ev.Origin,
		InheritedFrom: ev.InheritedFrom, ParentEventID: ev.ParentEventID, Source: ev.Source,
		Instance:   ev.Instance,
		OccurredAt: ev.OccurredAt.UTC().Format(time.RFC3339Nano),
		ReceivedAt: ev.ReceivedAt.UTC().Format(time.RFC3339Nano),
		Key:        key, IDs: IDs(ev), Attributes: ev.Attributes, Attempt: attempt,
		Data: json.RawMessage(ev.Payload), // checked once, by Marshal
	}
	if b.Attributes == nil {
		b.Attributes = map[string]string{}
	}
	return b
}

// IDs returns the typed ids ev carries, by their Avro field names: numbers
// for numeric ids, strings for the others; absent ids are left out.
func IDs(ev *schemas.Event) map[string]any {
	ids := map[string]any{}
	for _, src := range schemas.Sources {
		for _, f := range schemas.IDFields(src) {
			v, ok := ev.Key(f.Name)
			if !ok {
				continue
			}
			if f.Long {
				ids[f.Name] = json.Number(v)
			} else {
				ids[f.Name] = v
			}
		}
	}
	return ids
}

// Marshal returns the body's JSON: what encoding/json makes of Body, field
// for field (TestMarshalLikeEncodingJSON), built by appending so that the
// hot path of delivery does not walk the struct by reflection nor scan
// Data twice. Data that is not JSON (never written by provbus's own
// producers) still reaches the connector, as a string.
func (b Body) Marshal() ([]byte, error) {
	out := make([]byte, 0, 384+len(b.Data)+len(b.State))
	out = appendField(out, "{", "event_id", b.EventID)
	out = appendField(out, ",", "handler", b.Handler)
	out = appendField(out, ",", "event_type", b.EventType)
	out = appendField(out, ",", "origin", b.Origin)
	out = appendNullable(out, "inherited_from", b.InheritedFrom)
	out = appendNullable(out, "parent_event_id", b.ParentEventID)
	out = appendField(out, ",", "source", b.Source)
	if b.Instance != nil {
		out = appendField(out, ",", "instance", *b.Instance)
	}
	out = appendField(out, ",", "occurred_at", b.OccurredAt)
	out = appendField(out, ",", "received_at", b.ReceivedAt)
	out = appendField(out, ",", "key", b.Key)
	out = append(out, `,"ids":`...)
	var err error
	if out, err = appendIDs(out, b.IDs); err != nil {
		return nil, err
	}
	out = append(out, `,"attributes":`...)
	if b.Attributes == nil {
		out = append(out, "null"...)
	} else {
		sep := "{"
		for _, k := range slices.Sorted(maps.Keys(b.Attributes)) {
			out = appendField(out, sep, k, b.Attributes[k])
			sep = ","
		}
		if sep == "{" {
			out = append(out, '{')
		}
		out = append(out, '}')
	}
	out = append(out, `,"data":`...)
	if out, err = appendCompact(out, b.Data); err != nil {
		out = appendString(out, string(b.Data))
	}
	if len(b.State) > 0 {
		out = append(out, `,"state":`...)
		if out, err = appendCompact(out, b.State); err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
	}
	out = append(out, `,"attempt":`...)
	out = strconv.AppendInt(out, int64(b.Attempt), 10)
	return append(out, '}'), nil
}

// appendField appends sep, then "name":"value".
func appendField(dst []byte, sep, name, value string) []byte {
	dst = append(dst, sep...)
	dst = appendString(dst, name)
	dst = append(dst, ':')
	return appendString(dst, value)
}

func appendNullable(dst []byte, name string, v *string) []byte {
	if v != nil {
		return appendField(dst, ",", name, *v)
	}
	dst = append(dst, ',')
	dst = appendString(dst, name)
	return append(dst, ":null"...)
}

// appendIDs appends ids as an object with sorted keys; json.Number values
// go as they are once checked, other values through encoding/json.
func appendIDs(dst []byte, ids map[string]any) ([]byte, error) {
	if ids == nil {
		return append(dst, "null"...), nil
	}
	dst = append(dst, '{')
	for i, k := range slices.Sorted(maps.Keys(ids)) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		switch v := ids[k].(type) {
		case string:
			dst = appendString(dst, v)
		case json.Number:
			if _, err := strconv.ParseFloat(string(v), 64); err != nil || !json.Valid([]byte(v)) {
				return nil, fmt.Errorf("ids.%s: invalid number %q", k, v)
			}
			dst = append(dst, v...)
		default:
			j, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("ids.%s: %w", k, err)
			}
			dst = append(dst, j...)
		}
	}
	return append(dst, '}'), nil
}

// appendCompact appends src, checked and without insignificant
// whitespace; dst is unchanged when src is not JSON.
func appendCompact(dst, src []byte) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	if err := json.Compact(buf, src); err != nil {
		return dst, err
	}
	return buf.Bytes(), nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped exactly as
// encoding/json escapes it (HTML-safe: <, > and & as \u00XX; invalid
// UTF-8 as \ufffd; U+2028 and U+2029 escaped).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
