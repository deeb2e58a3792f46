// Package jsonstr writes JSON strings, and times as JSON strings, without
// encoding/json's reflection and allocations, byte for byte as
// encoding/json escapes them: the one escaper of the hand-written JSON
// writers (delivery bodies, their state, replay's NDJSON).
package jsonstr

import (
	"time"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// Append appends s as a JSON string, escaped exactly as encoding/json's
// Marshal escapes it: HTML-safe (<, > and & as \u00XX), invalid UTF-8 as
// \ufffd, U+2028 and U+2029 escaped.
func Append[T string | []byte](dst []byte, s T) []byte { return appendString(dst, s, &htmlSafe) }

// AppendNoHTML is Append with <, > and & left as they are, as an
// encoding/json Encoder with SetEscapeHTML(false) writes them.
func AppendNoHTML[T string | []byte](dst []byte, s T) []byte { return appendString(dst, s, &safe) }

// safe and htmlSafe are the ASCII bytes written as they are, without and
// with HTML escaping (encoding/json's safeSet and htmlSafeSet).
var safe, htmlSafe = func() (s, h [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		s[c] = c != '"' && c != '\\'
		h[c] = s[c] && c != '<' && c != '>' && c != '&'
	}
	return s, h
}()

func appendString[T string | []byte](dst []byte, s T, plain *[utf8.RuneSelf]bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if plain[c] {
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
		r, size := decodeRune(s[i:])
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

// decodeRune is utf8's DecodeRune for either kind of string.
func decodeRune[T string | []byte](s T) (rune, int) {
	switch s := any(s).(type) {
	case string:
		return utf8.DecodeRuneInString(s)
	case []byte:
		return utf8.DecodeRune(s)
	}
	panic("unreachable")
}

// AppendTime appends t in UTC, RFC 3339 with nanoseconds, as a JSON
// string: the layout writes digits and -:.TZ only, nothing to escape.
func AppendTime(dst []byte, t time.Time) []byte {
	dst = t.UTC().AppendFormat(append(dst, '"'), time.RFC3339Nano)
	return append(dst, '"')
}
