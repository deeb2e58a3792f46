package edge

import (
	"fmt"
	"sort"

	"github.com/provbus/provbus/schemas"
)

// Limits bound what one request may cost, whatever its source. The body
// size is bounded by the server (ingest.max_body_bytes); within it, these
// keep the parse linear and the records small: a deep document costs
// every recursive decoder its depth, a huge array one event (and one
// problem) per element, a huge object one attribute per member.
type Limits struct {
	// MaxDepth is the deepest nesting of one event, the event's own
	// object counting 1.
	MaxDepth int
	// MaxEvents is the most events (array elements) in one request.
	MaxEvents int
	// MaxAttributes is the most attributes of one event.
	MaxAttributes int
	// MaxAttributeBytes is the longest attribute value, in bytes.
	MaxAttributeBytes int
	// MaxFlatBytes bounds the attributes of a whole request: the sum,
	// over every leaf of every event, of its dotted name and its value.
	// Names repeat their parents' keys, so without it a long key over
	// many small leaves turns one MiB of body into gigabytes of names.
	MaxFlatBytes int
	// MaxRequestAttributes bounds the attributes of a whole request: the
	// leaves of all its events together. The cost of a request is per
	// attribute (flatten, the sorted re-encoding of hash-identified
	// events, the Avro map), and tiny attributes fit a MiB by the
	// hundred thousand, far more than MaxEvents × a real event's count.
	MaxRequestAttributes int
}

// DefaultLimits are the limits unless configured (ingest.limits): far
// above what ESPF, Transatel or JeraSoft send (a dozen variables, two or
// three levels), far below what makes a request expensive.
var DefaultLimits = Limits{MaxDepth: 32, MaxEvents: 1000, MaxAttributes: 512, MaxAttributeBytes: 64 << 10, MaxFlatBytes: 2 << 20,
	MaxRequestAttributes: 25000}

// OrDefault returns l with every unset (non-positive) field at its
// default, so a zero Limits is never "no limit".
func (l Limits) OrDefault() Limits {
	d := DefaultLimits
	if l.MaxDepth > 0 {
		d.MaxDepth = l.MaxDepth
	}
	if l.MaxEvents > 0 {
		d.MaxEvents = l.MaxEvents
	}
	if l.MaxAttributes > 0 {
		d.MaxAttributes = l.MaxAttributes
	}
	if l.MaxAttributeBytes > 0 {
		d.MaxAttributeBytes = l.MaxAttributeBytes
	}
	if l.MaxFlatBytes > 0 {
		d.MaxFlatBytes = l.MaxFlatBytes
	}
	if l.MaxRequestAttributes > 0 {
		d.MaxRequestAttributes = l.MaxRequestAttributes
	}
	return d
}

// Problem texts of the limits.
const (
	MsgTooDeep           = "nested too deep"
	MsgTooManyEvents     = "too many events in one request"
	MsgTooManyAttributes = "too many attributes"
	MsgAttributeTooLong  = "attribute too long"
	MsgTooMuchFlattened  = "attributes too large in all"
	MsgTooManyInRequest  = "too many attributes in one request"
)

// MaxProblems is how many problems a 400 answer lists; the rest are
// counted (Error.Total), not listed.
const MaxProblems = 20

// Check holds a body to the event-count, depth, request-attribute and
// flattened-size limits
// in one linear scan without allocating, before any parser (each recursive, several
// re-reading sub-documents) sees it. It returns nil for anything else,
// malformed JSON included: the parser reports that with its usual
// problems.
func (l Limits) Check(body []byte) error {
	l = l.OrDefault()
	i := skipSpace(body, 0)
	if i >= len(body) {
		return nil
	}
	var t tally
	overAt := -1 // the element whose leaves passed MaxRequestAttributes
	switch body[i] {
	case '{':
		if end := flatScan(body, i, 1, l.MaxDepth, 0, &t); end == tooDeep {
			return l.tooDeep(0)
		}
		if t.leaves > l.MaxRequestAttributes {
			overAt = 0
		}
	case '[':
		// One pass: each element is scanned once, for its depth and
		// attributes while there are at most MaxEvents, then only
		// counted. Too many is reported before too deep, wherever the
		// deep element is.
		n, deepAt := 0, -1
		j := skipSpace(body, i+1)
		if j < len(body) && body[j] == ']' {
			return nil
		}
		for j < len(body) {
			var end int
			if n < l.MaxEvents && deepAt < 0 {
				if end = flatScan(body, j, 1, l.MaxDepth, 0, &t); end == tooDeep {
					deepAt = n
					end = scanValue(body, j, 1) // go on counting
				}
				if overAt < 0 && t.leaves > l.MaxRequestAttributes {
					overAt = n
				}
			} else {
				end = scanValue(body, j, 1)
			}
			if end < 0 {
				break // malformed: the parser names it
			}
			n++
			j = skipSpace(body, end)
			if j >= len(body) || body[j] != ',' {
				break
			}
			j = skipSpace(body, j+1)
		}
		if n > l.MaxEvents {
			return &Error{Problems: []Problem{{Index: l.MaxEvents, Error: fmt.Sprintf("%s: %d, at most %d", MsgTooManyEvents, n, l.MaxEvents)}}, Total: 1}
		}
		if deepAt >= 0 {
			return l.tooDeep(deepAt)
		}
	}
	if overAt >= 0 {
		return &Error{Problems: []Problem{{Index: overAt, Error: fmt.Sprintf("%s: %d, at most %d", MsgTooManyInRequest, t.leaves, l.MaxRequestAttributes)}}, Total: 1}
	}
	if t.bytes > l.MaxFlatBytes {
		return &Error{Problems: []Problem{{Error: fmt.Sprintf("%s: %d bytes of names and values, at most %d", MsgTooMuchFlattened, t.bytes, l.MaxFlatBytes)}}, Total: 1}
	}
	return nil
}

func (l Limits) tooDeep(index int) error {
	return &Error{Problems: []Problem{{Index: index, Error: fmt.Sprintf("%s: at most %d levels", MsgTooDeep, l.MaxDepth)}}, Total: 1}
}

// CheckEvents holds parsed events to the attribute limits: the count per
// event and the length of each value, reported under the attribute's
// name (its JSON path for Transatel and JeraSoft, the variable for ESPF).
func (l Limits) CheckEvents(evs []schemas.Event) error {
	l = l.OrDefault()
	var bad Error
	for i := range evs {
		attrs := evs[i].Attributes
		if n := len(attrs); n > l.MaxAttributes {
			bad.Add(i, "", fmt.Sprintf("%s: %d, at most %d", MsgTooManyAttributes, n, l.MaxAttributes))
			continue
		}
		var long []string
		for k, v := range attrs {
			if len(v) > l.MaxAttributeBytes {
				long = append(long, k)
			}
		}
		sort.Strings(long) // map order is random; answers are not
		for _, k := range long {
			bad.Add(i, k, fmt.Sprintf("%s: %d bytes, at most %d", MsgAttributeTooLong, len(attrs[k]), l.MaxAttributeBytes))
		}
	}
	return bad.Err()
}

// tally is what flatScan adds up over a request's events.
type tally struct {
	leaves int // attributes: non-object values and empty objects
	bytes  int // their dotted names and values
}

// flatScan scans the value at b[i] like scanValueMax and adds to t each
// leaf it would flatten to, and the size the leaf takes as an attribute:
// the dotted name (path bytes so far, plus each key and a dot) and the
// value, for every non-object value and empty object. It over-counts for
// ESPF, whose nested variables stay one JSON value, which only makes the
// bounds safer.
func flatScan(b []byte, i, depth, limit, path int, t *tally) int {
	if b[i] != '{' {
		end := scanValueMax(b, i, depth-1, limit)
		if end > 0 {
			t.leaves++
			t.bytes += path + end - i
		}
		return end
	}
	if depth > limit {
		return tooDeep
	}
	members := 0
	end := walkObject(b, i, depth, limit, func(m member, depth int) int {
		members++
		child := m.key.end - m.key.start - 2
		if path > 0 {
			child += path + 1
		}
		return flatScan(b, m.val.start, depth+1, limit, child, t)
	})
	if end > 0 && members == 0 {
		t.leaves++
		t.bytes += path + 2
	}
	return end
}
