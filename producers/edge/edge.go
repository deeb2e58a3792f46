// Package edge is what the three source edges (portabilling, transatel,
// jerasoft) share: the Source contract the ingest server drives, validation
// problems reported per element of a request, and the JSON helpers every
// parser needs (ids sent as numbers or strings, variables kept as attribute
// strings, canonical JSON for hash-based event ids).
//
// A source package only turns bytes into schemas.Event values with the event
// type as the source spelled it; the catalog look-up, the record key, the
// quarantine and the produce path live once, in producers/ingest.
package edge

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/provbus/provbus/schemas"
)

// ErrUnauthorized is returned by Source.Authenticate when credentials are
// missing or wrong, or when the source has none configured (HTTP 401).
var ErrUnauthorized = errors.New("unauthorized")

// ErrNoCredentials is wrapped by the ErrUnauthorized of a source that has
// no credentials configured: it accepts nothing (secure by default); the
// ingest server serves such a source only when it is marked insecure,
// and then does not call Authenticate.
var ErrNoCredentials = errors.New("no credentials configured")

// Source is one upstream system's edge: how it authenticates, how its body
// is parsed, and how it expects to be answered.
type Source interface {
	// Name is the source name: the first part of its topics and of its
	// URL path /v1/sources/<name>/events.
	Name() string
	// Authenticate checks the request's credentials; body is the raw body,
	// for sources that sign it. It returns the instance (installation) the
	// matching credentials belong to ("" for the default one), or an error
	// wrapping ErrUnauthorized when the request must be refused.
	Authenticate(r *http.Request, body []byte) (instance string, err error)
	// Parse decodes a body (one event or a JSON array of events) into
	// events whose EventType is spelled as the source sent it. Bad input
	// yields a *Error listing every bad element.
	Parse(body []byte, received time.Time) ([]schemas.Event, error)
	// Field returns where a typed id ("i_account", "msisdn", …) is read
	// from in the source's body, so a missing key is reported in the
	// sender's own terms ("variables.i_account").
	Field(id string) string
	// Status is the success status the source expects: 200 with a JSON
	// body, or 204.
	Status() int
}

// Problem is one reason an element of a request was refused.
type Problem struct {
	// Index is the element's position in a JSON array body (0 for a
	// single-object body).
	Index int    `json:"index"`
	Error string `json:"error"`
	// Field is the JSON path of the offending field, "" when the element
	// as a whole is bad.
	Field string `json:"field,omitempty"`
}

// Common Problem.Error texts, so senders can match them.
const (
	MsgMissing   = "missing required field"
	MsgWrongType = "wrong type"
	MsgBadValue  = "invalid value"
	MsgNotObject = "element is not a JSON object"
	MsgMalformed = "malformed JSON"
	MsgEmpty     = "no events in body"
)

// Error is a request refused as a whole (HTTP 400) because of the listed
// problems. Nothing of a request with an Error is produced.
type Error struct {
	Problems []Problem
	// Total counts every problem found; an answer lists at most
	// MaxProblems of them. Add keeps it; Count reads it.
	Total int
}

// Count is the number of problems found (at least len(Problems)).
func (e *Error) Count() int { return max(e.Total, len(e.Problems)) }

// Error implements error.
func (e *Error) Error() string {
	if len(e.Problems) == 0 {
		return "bad request"
	}
	p := e.Problems[0]
	s := fmt.Sprintf("element %d: %s", p.Index, p.Error)
	if p.Field != "" {
		s += " (" + p.Field + ")"
	}
	if n := e.Count() - 1; n > 0 {
		s += fmt.Sprintf(" and %d more", n)
	}
	return s
}

// Add records a problem.
func (e *Error) Add(index int, field, msg string) {
	e.Problems = append(e.Problems, Problem{Index: index, Field: field, Error: msg})
	e.Total = max(e.Total, len(e.Problems)-1) + 1
}

// Err returns e as an error, or nil when it holds no problem.
func (e *Error) Err() error {
	if e == nil || len(e.Problems) == 0 {
		return nil
	}
	return e
}

// ParseTime parses s with the first layout that fits; layouts without a
// zone are read as UTC.
func ParseTime(s string, layouts ...string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range layouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// ISOLayouts are the ISO 8601 variants webhook senders use in practice:
// RFC 3339 with or without fraction, zones written +hh:mm, +hhmm or Z, and
// zone-less local forms (read as UTC).
var ISOLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// Direct returns an event with the fields every source fills the same way:
// origin DIRECT, the receive time, and the occurred time or, when the source
// sent none, the receive time flagged as estimated.
func Direct(source string, received time.Time, occurred *time.Time) schemas.Event {
	ev := schemas.Event{Source: source, Origin: schemas.OriginDirect, ReceivedAt: received.UTC()}
	if occurred != nil {
		ev.OccurredAt = *occurred
	} else {
		ev.OccurredAt = ev.ReceivedAt
		ev.OccurredAtEstimated = true
	}
	return ev
}

// ElementParser parses element i of a request body into an event, adding
// what is wrong with it to bad; ok is false when the element is unusable.
type ElementParser func(i int, raw json.RawMessage, received time.Time, bad *Error) (ev schemas.Event, ok bool)

// ParseElements splits body into its elements (one object or an array) and
// parses each with parse. An array is validated whole: any bad element
// makes the result an *Error listing every bad index, and no events.
func ParseElements(body []byte, received time.Time, parse ElementParser) ([]schemas.Event, error) {
	raws, err := Elements(body)
	if err != nil {
		return nil, err
	}
	out := make([]schemas.Event, 0, len(raws))
	var bad Error
	for i, raw := range raws {
		if ev, ok := parse(i, raw, received, &bad); ok {
			out = append(out, ev)
		}
	}
	if err := bad.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// DecodeObject decodes the required object field of element i into v. A
// missing field or one that is not an object adds its problem to bad and
// returns false.
func DecodeObject(i int, field string, raw json.RawMessage, v any, bad *Error) bool {
	switch {
	case IsNull(raw):
		bad.Add(i, field, MsgMissing)
	case !IsObject(raw) || json.Unmarshal(raw, v) != nil:
		bad.Add(i, field, MsgWrongType+": want an object")
	default:
		return true
	}
	return false
}
