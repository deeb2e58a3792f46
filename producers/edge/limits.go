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
}

// DefaultLimits are the limits unless configured (ingest.limits): far
// above what ESPF, Transatel or JeraSoft send (a dozen variables, two or
// three levels), far below what makes a request expensive.
var DefaultLimits = Limits{MaxDepth: 32, MaxEvents: 1000, MaxAttributes: 512, MaxAttributeBytes: 64 << 10}

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
	return d
}

// Problem texts of the limits.
const (
	MsgTooDeep           = "nested too deep"
	MsgTooManyEvents     = "too many events in one request"
	MsgTooManyAttributes = "too many attributes"
	MsgAttributeTooLong  = "attribute too long"
)

// MaxProblems is how many problems a 400 answer lists; the rest are
// counted (Error.Total), not listed.
const MaxProblems = 20

// Check holds a body to the event-count and depth limits in a linear
// scan (two for an array) without allocating, before any parser (each recursive, several
// re-reading sub-documents) sees it. It returns nil for anything else,
// malformed JSON included: the parser reports that with its usual
// problems.
func (l Limits) Check(body []byte) error {
	l = l.OrDefault()
	i := skipSpace(body, 0)
	if i >= len(body) {
		return nil
	}
	switch body[i] {
	case '{':
		if end := scanObjectMax(body, i, 1, l.MaxDepth, nil); end == tooDeep {
			return l.tooDeep(0)
		}
	case '[':
		// Counted first, at encoding/json's own depth limit, so a huge
		// array is named as such wherever its deep element is.
		n := 0
		scanArray(body, i, 1, func(span) { n++ })
		if n > l.MaxEvents {
			return &Error{Problems: []Problem{{Index: l.MaxEvents, Error: fmt.Sprintf("%s: %d, at most %d", MsgTooManyEvents, n, l.MaxEvents)}}, Total: 1}
		}
		n = 0
		if end := scanArrayMax(body, i, 1, l.MaxDepth+1, func(span) { n++ }); end == tooDeep {
			return l.tooDeep(n) // n elements passed; element n is the deep one
		}
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
