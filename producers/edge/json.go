package edge

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Elements splits a body into its events: a JSON object is one element, a
// JSON array is one element per item. Every element is returned raw, as
// received, so it can become the record's payload or a quarantined body.
// The error is a *Error for index 0 when the body is not an object or a
// non-empty array.
func Elements(body []byte) ([]json.RawMessage, error) {
	b := trimSpace(body)
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
	b := trimSpace(raw)
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

// unquote decodes the JSON string raw, with encoding/json's error when it
// is not one.
func unquote(raw []byte) (string, error) {
	if s, ok := decodeString(raw); ok {
		return s, nil
	}
	var s string
	err := json.Unmarshal(raw, &s) // its error message
	return s, err
}

// AttrValue renders a JSON value as an attribute string: strings without
// their quotes, anything else as its compact JSON text (so null is "null"
// and an object stays a JSON document).
func AttrValue(raw json.RawMessage) string {
	// Strings and numbers are their own attribute text; only the rest
	// pays for encoding/json.
	if s, ok := decodeString(raw); ok {
		return s
	}
	if IsNumber(raw) {
		return string(raw)
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
	b := trimSpace(raw)
	// One copy of the text, whose substrings are the plain values: no
	// allocation per leaf.
	if end := flattenObject(b, string(b), 0, 1, prefix, attrs); end != len(b) {
		attrs[prefix] = AttrValue(raw) // not valid JSON: kept as sent
	}
}

// attrText is AttrValue(b[i:end]) as a substring of text (== string(b))
// when no decoding is needed.
func attrText(b []byte, text string, i, end int) string {
	v := b[i:end]
	if v[0] == '"' { // scanned: one valid string
		_, plain := scanString(v, 0)
		if inner := v[1 : len(v)-1]; plain || (bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner)) {
			return text[i+1 : end-1]
		}
		return decodeScanned(v[1 : len(v)-1])
	}
	if IsNumber(v) || string(v) == "true" || string(v) == "false" {
		return text[i:end]
	}
	return AttrValue(v)
}

// flattenObject flattens the object at b[i] under prefix and returns its
// end, or < 0 when it is not a valid object (attrs may then hold some of
// its members).
func flattenObject(b []byte, text string, i, depth int, prefix string, attrs map[string]string) int {
	members := 0
	end := walkObject(b, i, depth, maxDepth, func(m member, depth int) int {
		members++
		var k string
		if m.plainKey {
			k = text[m.key.start+1 : m.key.end-1]
		} else {
			var err error
			if k, err = unquote(b[m.key.start:m.key.end]); err != nil {
				return -1
			}
		}
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		j := m.val.start
		if b[j] == '{' {
			return flattenObject(b, text, j, depth+1, key, attrs)
		}
		end := scanValueMax(b, j, depth, maxDepth)
		if end >= 0 {
			if v := b[j:end]; !IsNull(v) {
				attrs[key] = attrText(b, text, j, end)
			} else {
				// A later null member overrides an earlier one, as the
				// map decode did by dropping it.
				delete(attrs, key)
			}
		}
		return end
	})
	if end > 0 && members == 0 && prefix != "" {
		attrs[prefix] = "{}"
	}
	return end
}

// Canonical re-encodes a JSON document with object keys sorted, no
// insignificant white space, numbers as sent and no HTML escaping, so the
// same document always hashes the same however the sender formatted it.
//
// It is exactly what decoding into any (numbers as json.Number) and
// encoding with encoding/json gave — event ids of hash-identified events
// depend on it, FuzzCanonicalMatchesEncodingJSON holds it there — written
// in one pass over the scanned text instead of through maps of
// interfaces, which cost a JeraSoft request most of its CPU.
func Canonical(raw json.RawMessage) ([]byte, error) {
	b := trimSpace(raw)
	if !valid(b) {
		// encoding/json's own message, as before.
		var v any
		err := json.Unmarshal(b, &v)
		if err == nil {
			err = fmt.Errorf("invalid JSON")
		}
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	c := canonicalizer{out: make([]byte, 0, len(b)), text: string(b), members: make([]canonicalMember, 0, 64)}
	c.value(b, 0)
	return c.out, nil
}

// canonicalizer writes the canonical form of already validated JSON.
type canonicalizer struct {
	out     []byte
	text    string            // string(b): plain keys are its substrings
	members []canonicalMember // reused across objects
	decoded []string          // the keys that needed decoding
}

// canonicalMember holds no pointer, so sorting members moves plain
// memory (no GC write barriers): its key is a range of text, or, when
// decoded is >= 0, c.decoded[decoded].
type canonicalMember struct {
	keyStart, keyEnd int
	decoded          int
	val              span
}

func (c *canonicalizer) key(m *canonicalMember) string {
	if m.decoded >= 0 {
		return c.decoded[m.decoded]
	}
	return c.text[m.keyStart:m.keyEnd]
}

// value writes the value at b[i] and returns its end.
func (c *canonicalizer) value(b []byte, i int) int {
	switch b[i] {
	case '{':
		return c.object(b, i)
	case '[':
		c.out = append(c.out, '[')
		first := true
		end := scanArray(b, i, 1, func(sp span) {
			if !first {
				c.out = append(c.out, ',')
			}
			first = false
			c.value(b, sp.start)
		})
		c.out = append(c.out, ']')
		return end
	case '"':
		end, _ := scanString(b, i)
		c.str(b[i:end])
		return end
	}
	// Numbers as sent, true, false, null.
	end := scanValue(b, i, 0)
	c.out = append(c.out, b[i:end]...)
	return end
}

// object writes the members of the object at b[i] sorted by key; of
// duplicate keys the last wins, as in the map it used to be decoded into.
func (c *canonicalizer) object(b []byte, i int) int {
	base := len(c.members)
	end := scanObject(b, i, 1, func(m member) {
		cm := canonicalMember{keyStart: m.key.start + 1, keyEnd: m.key.end - 1, decoded: -1, val: m.val}
		if !m.plainKey {
			k, _ := unquote(b[m.key.start:m.key.end]) // valid: scanned
			cm.decoded = len(c.decoded)
			c.decoded = append(c.decoded, k)
		}
		c.members = append(c.members, cm)
	})
	ms := c.members[base:]
	// Equal keys stay in document order, so the last of them stays last
	// (a stable sort moves memory far more than this tie-break costs).
	slices.SortFunc(ms, func(x, y canonicalMember) int {
		if c := strings.Compare(c.key(&x), c.key(&y)); c != 0 {
			return c
		}
		return x.val.start - y.val.start
	})
	c.out = append(c.out, '{')
	first := true
	for j := range ms {
		if j+1 < len(ms) && c.key(&ms[j+1]) == c.key(&ms[j]) {
			continue
		}
		if !first {
			c.out = append(c.out, ',')
		}
		first = false
		c.out = appendJSONString(c.out, c.key(&ms[j]))
		c.out = append(c.out, ':')
		c.value(b, ms[j].val.start)
	}
	c.out = append(c.out, '}')
	c.members = c.members[:base]
	return end
}

// str writes the JSON string raw as encoding/json re-encodes its text.
func (c *canonicalizer) str(raw []byte) {
	if end, plain := scanString(raw, 0); plain && end == len(raw) {
		// ASCII without escapes: encoding/json writes it back as is
		// (control characters cannot be in it unescaped, and HTML
		// escaping is off).
		c.out = append(c.out, raw...)
		return
	}
	c.out = appendJSONString(c.out, decodeScanned(raw[1:len(raw)-1])) // valid: scanned
}

// appendJSONString appends s as encoding/json encodes it with HTML
// escaping off.
func appendJSONString(dst []byte, s string) []byte {
	// Valid UTF-8 is written as is but for control characters, quote,
	// backslash and U+2028/U+2029 (escaped even with HTML escaping off).
	plain := utf8.ValidString(s) && !strings.ContainsRune(s, '\u2028') && !strings.ContainsRune(s, '\u2029')
	for k := 0; k < len(s) && plain; k++ {
		c := s[k]
		plain = c >= 0x20 && c != '"' && c != '\\'
	}
	if plain {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
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

// MemberHint is a size hint for the attribute map of an element: its
// count of ':' (every member has one; those inside strings over-count),
// capped so a body of colons cannot make a huge map.
func MemberHint(raw []byte) int {
	return min(bytes.Count(raw, []byte{':'}), 1024)
}
