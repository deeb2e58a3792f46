package edge

import (
	"bytes"
	"encoding/json"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// A validating JSON scanner that splits a body into byte ranges in one
// pass. encoding/json validated every element three times (the array, the
// element, its variables) with a state machine called through a function
// pointer per byte, and copied every value; the profile of the ingest line
// had it at two thirds of the request's CPU. The scanner accepts exactly
// what json.Valid accepts (FuzzScanMatchesEncodingJSON holds it to that),
// including encoding/json's nesting limit.

// maxDepth is encoding/json's nesting limit: deeper documents are invalid
// there, so they are invalid here. Limits.MaxDepth is the (much lower)
// limit a request is held to.
const maxDepth = 10000

// tooDeep is the scanners' end for a document nested deeper than their
// limit; -1 is any other invalid document. Both are < 0.
const tooDeep = -2

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// trimSpace trims JSON's white space (space, tab, CR, LF) from both ends
// of b: only that. bytes.TrimSpace also strips \v, \f and Unicode spaces,
// which JSON does not allow, and a body that Limits.Check (JSON's rules)
// did not recognise must not be parsed as one it did: a leading \f once
// skipped every request limit.
func trimSpace(b []byte) []byte {
	i, j := skipSpace(b, 0), len(b)
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

// scanValue returns the end of the JSON value starting at b[i] (no leading
// space), or -1 when it is not valid JSON.
func scanValue(b []byte, i, depth int) int { return scanValueMax(b, i, depth, maxDepth) }

// scanValueMax is scanValue with a nesting limit of limit.
func scanValueMax(b []byte, i, depth, limit int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		end, _ := scanString(b, i)
		return end
	case c == '{':
		return scanObjectMax(b, i, depth+1, limit, nil)
	case c == '[':
		return scanArrayMax(b, i, depth+1, limit, nil)
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(b, i)
	}
	return -1
}

func scanLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// scanString returns the end of the string starting at b[i] (the opening
// quote) and whether its text is its bytes as they stand: no escape and
// only ASCII (so no invalid UTF-8 for a decoder to replace).
func scanString(b []byte, i int) (end int, plain bool) {
	plain = true
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, plain
		case c < 0x20:
			return -1, false
		case c >= utf8.RuneSelf:
			plain = false
		case c == '\\':
			plain = false
			i++
			if i >= len(b) {
				return -1, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-i < 5 {
					return -1, false
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return -1, false
					}
				}
				i += 4
			default:
				return -1, false
			}
		}
	}
	return -1, false
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber follows JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	return i
}

// span is a half-open byte range [Start, End) of a scanned document.
type span struct{ start, end int }

// member is one name/value pair of an object: the key's range includes its
// quotes; plainKey is scanString's plain.
type member struct {
	key, val span
	plainKey bool
}

// scanObject returns the end of the object starting at b[i], or -1; each
// member is passed to fn when fn is not nil.
func scanObject(b []byte, i, depth int, fn func(member)) int {
	return scanObjectMax(b, i, depth, maxDepth, fn)
}

func scanObjectMax(b []byte, i, depth, limit int, fn func(member)) int {
	return walkObject(b, i, depth, limit, func(m member, depth int) int {
		end := scanValueMax(b, m.val.start, depth, limit)
		if end >= 0 && fn != nil {
			m.val.end = end
			fn(m)
		}
		return end
	})
}

// walkObject is the one home of JSON's object grammar: it returns the end
// of the object starting at b[i] (tooDeep past limit, -1 when invalid) and
// hands each member to value, which scans the member's value itself (from
// m.val.start, always inside b; m.val.end is not known yet) and returns its
// end or < 0. scanObjectMax, flatScan and Flatten are its callers.
func walkObject(b []byte, i, depth, limit int, value func(m member, depth int) int) int {
	if depth > limit {
		return tooDeep
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		end, plain := scanString(b, i)
		if end < 0 {
			return -1
		}
		m := member{key: span{i, end}, plainKey: plain}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return -1
		}
		m.val.start = i
		end = value(m, depth)
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

// scanArray returns the end of the array starting at b[i], or -1; each
// element's range is passed to fn when fn is not nil.
func scanArray(b []byte, i, depth int, fn func(span)) int {
	return scanArrayMax(b, i, depth, maxDepth, fn)
}

func scanArrayMax(b []byte, i, depth, limit int, fn func(span)) int {
	if depth > limit {
		return tooDeep
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	for {
		end := scanValueMax(b, i, depth, limit)
		if end < 0 {
			return end
		}
		if fn != nil {
			fn(span{i, end})
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return i + 1
		default:
			return -1
		}
	}
}

// valid reports whether b is one JSON value with optional surrounding
// white space: json.Valid, without its per-byte indirect calls.
func valid(b []byte) bool {
	i := skipSpace(b, 0)
	end := scanValue(b, i, 0)
	return end >= 0 && skipSpace(b, end) == len(b)
}

// Member is one name/value pair of a JSON object, as byte offsets into
// the object's text so a caller can slice a string copy of that text
// instead of allocating per value.
type Member struct {
	// KeyStart and KeyEnd delimit the key's text, without its quotes.
	KeyStart, KeyEnd int
	// ValStart and ValEnd delimit the value's JSON text.
	ValStart, ValEnd int
	// PlainKey is true when the key's text is the key (no escape, ASCII
	// only); anything else must be decoded by encoding/json to compare.
	PlainKey bool
}

// Members appends the members of the JSON object obj to dst, in document
// order (duplicates included, so the last one wins for a caller that
// assigns in order, as encoding/json does). ok is false when obj is not
// exactly one valid JSON object.
func Members(dst []Member, obj []byte) (out []Member, ok bool) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return dst, false
	}
	end := scanObject(obj, i, 1, func(m member) {
		dst = append(dst, Member{
			KeyStart: m.key.start + 1, KeyEnd: m.key.end - 1,
			ValStart: m.val.start, ValEnd: m.val.end, PlainKey: m.plainKey,
		})
	})
	if end < 0 || skipSpace(obj, end) != len(obj) {
		return dst, false
	}
	return dst, true
}

// PlainString returns the text of the JSON string raw when it needs no
// decoding — no escape and valid UTF-8, so encoding/json would return the
// same bytes: those between the quotes. ok is false for anything else,
// which encoding/json must decode.
func PlainString(raw []byte) (inner []byte, ok bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return nil, false
	}
	end, plain := scanString(raw, 0)
	if end != len(raw) {
		return nil, false
	}
	inner = raw[1 : len(raw)-1]
	if !plain && (bytes.IndexByte(inner, '\\') >= 0 || !utf8.Valid(inner)) {
		return nil, false
	}
	return inner, true
}

// IsNumber reports whether raw is exactly one JSON number, whose text is
// then its own compact form.
func IsNumber(raw []byte) bool {
	return len(raw) > 0 && (raw[0] == '-' || isDigit(raw[0])) && scanNumber(raw, 0) == len(raw)
}

// Fields returns the values of the named members of the JSON object obj,
// as encoding/json fills a struct of json.RawMessage fields with those
// names: nil for an absent member, the last of duplicates. It scans obj
// once. ok is false when obj is not one valid object or a key needs
// encoding/json's own rules (escaped, or equal to a name only
// case-insensitively): the caller then decodes with encoding/json.
func Fields(obj []byte, names ...string) (vals []json.RawMessage, ok bool) {
	var stack [16]Member
	ms, ok := Members(stack[:0], obj)
	if !ok {
		return nil, false
	}
	vals = make([]json.RawMessage, len(names))
	for _, m := range ms {
		if !m.PlainKey {
			return nil, false
		}
		key := obj[m.KeyStart:m.KeyEnd]
		for j, n := range names {
			switch {
			case string(key) == n:
				vals[j] = obj[m.ValStart:m.ValEnd:m.ValEnd]
			case bytes.EqualFold(key, []byte(n)):
				return nil, false
			}
		}
	}
	return vals, true
}

// decodeString decodes the JSON string raw (quotes included) exactly as
// encoding/json does — invalid UTF-8 and lone surrogates become U+FFFD —
// without its validation pass and reflective store, which cost an
// escaped MiB most of its CPU. ok is false when raw is not one valid
// string; FuzzDecodeStringMatchesEncodingJSON holds it to json.Unmarshal.
func decodeString(raw []byte) (s string, ok bool) {
	end, plain := scanString(raw, 0)
	if len(raw) < 2 || raw[0] != '"' || end != len(raw) {
		return "", false
	}
	if plain {
		return string(raw[1 : len(raw)-1]), true
	}
	return decodeScanned(raw[1 : len(raw)-1]), true
}

// decodeScanned is decodeString for the text in between the quotes of a
// string already scanned valid.
func decodeScanned(in []byte) string {
	out := make([]byte, 0, len(in))
	for r := 0; r < len(in); {
		switch c := in[r]; {
		case c == '\\':
			switch e := in[r+1]; e { // scanned: a valid escape follows
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				rr := hex4(in[r+2 : r+6])
				r += 6
				if utf16.IsSurrogate(rr) {
					if r+6 <= len(in) && in[r] == '\\' && in[r+1] == 'u' {
						if dec := utf16.DecodeRune(rr, hex4(in[r+2:r+6])); dec != unicode.ReplacementChar {
							out = utf8.AppendRune(out, dec)
							r += 6
							continue
						}
					}
					rr = unicode.ReplacementChar
				}
				out = utf8.AppendRune(out, rr)
				continue
			default: // " \ /
				out = append(out, e)
			}
			r += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			r++
		default:
			rr, size := utf8.DecodeRune(in[r:])
			out = utf8.AppendRune(out, rr)
			r += size
		}
	}
	return string(out)
}

// hex4 is the value of four (scanned, valid) hex digits.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
