package edge

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
)

// Elements splits a body into its events: a JSON object is one element, a
// JSON array is one element per item. Every element is returned raw, as
// received, so it can become the record's payload or a quarantined body.
// The error is a *Error for index 0 when the body is not an object or a
// non-empty array.
func Elements(body []byte) ([]json.RawMessage, error) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return nil, &Error{Problems: []Problem{{Error: MsgEmpty}}}
	}
	switch b[0] {
	case '{':
		if !valid(b) {
			return nil, &Error{Problems: []Problem{{Error: MsgMalformed}}}
		}
		return []json.RawMessage{b}, nil
	case '[':
		// One scan validates the array and splits it; the elements are
		// slices of body, as the single-object case always was.
		var items []json.RawMessage
		end := scanArray(b, 0, 1, func(sp span) {
			items = append(items, b[sp.start:sp.end:sp.end])
		})
		if end < 0 || skipSpace(b, end) != len(b) {
			return nil, &Error{Problems: []Problem{{Error: MsgMalformed}}}
		}
		if len(items) == 0 {
			return nil, &Error{Problems: []Problem{{Error: MsgEmpty}}}
		}
		return items, nil
	}
	if json.Valid(b) {
		return nil, &Error{Problems: []Problem{{Error: "body must be a JSON object or an array of objects"}}}
	}
	return nil, &Error{Problems: []Problem{{Error: MsgMalformed}}}
}

// IsNull reports whether raw is absent or JSON null.
func IsNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// IsObject reports whether raw is a JSON object.
func IsObject(raw json.RawMessage) bool {
	b := bytes.TrimSpace(raw)
	return len(b) > 0 && b[0] == '{'
}

// ID reads an integer id sent as a JSON number or a numeric string
// (PortaBilling sends both). Null, absent and "" are "not sent" (nil, nil).
func ID(raw json.RawMessage) (*int64, error) {
	if IsNull(raw) {
		return nil, nil
	}
	s := string(raw)
	if raw[0] == '"' {
		var err error
		if s, err = unquote(raw); err != nil {
			return nil, fmt.Errorf("%s: want an integer or a numeric string", MsgWrongType)
		}
		if s == "" {
			return nil, nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%s: want an integer or a numeric string", MsgWrongType)
	}
	return &n, nil
}

// Text reads an identifier sent as a JSON string or number, returning its
// text. Null, absent and "" are "not sent" (nil, nil); objects, arrays and
// booleans are a wrong type.
func Text(raw json.RawMessage) (*string, error) {
	if IsNull(raw) {
		return nil, nil
	}
	switch raw[0] {
	case '"':
		s, err := unquote(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: want a string", MsgWrongType)
		}
		if s == "" {
			return nil, nil
		}
		return &s, nil
	case '{', '[', 't', 'f':
		return nil, fmt.Errorf("%s: want a string or a number", MsgWrongType)
	}
	s := string(raw)
	return &s, nil
}

// unquote decodes the JSON string raw. Most strings need no decoding, and
// json.Unmarshal costs a validation pass and a reflective store for them.
func unquote(raw []byte) (string, error) {
	if inner, ok := PlainString(raw); ok {
		return string(inner), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// AttrValue renders a JSON value as an attribute string: strings without
// their quotes, anything else as its compact JSON text (so null is "null"
// and an object stays a JSON document).
func AttrValue(raw json.RawMessage) string {
	// Strings without escapes and numbers are their own attribute text;
	// only the rest pays for encoding/json.
	if inner, ok := PlainString(raw); ok {
		return string(inner)
	}
	if IsNumber(raw) {
		return string(raw)
	}
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		return buf.String()
	}
	return string(raw)
}

// Flatten copies a JSON object into attrs with dotted keys: nested objects
// become prefix.key.sub…, every other value AttrValue, nulls nothing, an
// empty object "{}". A value that is not an object is stored under prefix
// itself.
//
// It reads raw once, front to back: the recursive decode it replaces
// unmarshalled every level again, so its cost grew with depth × size.
func Flatten(prefix string, raw json.RawMessage, attrs map[string]string) {
	if !IsObject(raw) {
		if !IsNull(raw) && prefix != "" {
			attrs[prefix] = AttrValue(raw)
		}
		return
	}
	b := bytes.TrimSpace(raw)
	if end := flattenObject(b, 0, 1, prefix, attrs); end != len(b) {
		attrs[prefix] = AttrValue(raw) // not valid JSON: kept as sent
	}
}

// flattenObject flattens the object at b[i] under prefix and returns its
// end, or < 0 when it is not a valid object (attrs may then hold some of
// its members).
func flattenObject(b []byte, i, depth int, prefix string, attrs map[string]string) int {
	if depth > maxDepth {
		return tooDeep
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		if prefix != "" {
			attrs[prefix] = "{}"
		}
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		end, _ := scanString(b, i)
		if end < 0 {
			return -1
		}
		k, err := unquote(b[i:end])
		if err != nil {
			return -1
		}
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '{' {
			end = flattenObject(b, i, depth+1, key, attrs)
		} else {
			end = scanValueMax(b, i, depth, maxDepth)
			if end >= 0 {
				if v := b[i:end]; !IsNull(v) {
					attrs[key] = AttrValue(v)
				} else {
					// A later null member overrides an earlier one, as
					// the map decode did by dropping it.
					delete(attrs, key)
				}
			}
		}
		if end < 0 {
			return end
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1
		default:
			return -1
		}
	}
}

// Canonical re-encodes a JSON document with object keys sorted, no
// insignificant white space, numbers as sent and no HTML escaping, so the
// same document always hashes the same however the sender formatted it.
func Canonical(raw json.RawMessage) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// encoding/json writes map keys sorted, which is the canonical order.
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// HashID is the event id of an element whose source sends none: the hex
// SHA-256 of its canonical JSON. Retries and re-imports of the same event
// get the same id.
func HashID(raw json.RawMessage) (string, error) {
	c, err := Canonical(raw)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:]), nil
}
