// Package jerasoft is the edge for the JeraSoft VCS Provisioning API: it
// checks the shared token and turns {"event": {dt, events_id, object_id},
// "data": {…}} payloads into provbus events.
//
// VCS sends no delivery id, so the event id is the hex SHA-256 of the
// canonical JSON of the payload (sorted keys, no insignificant white
// space): a retry or a re-import of the same payload gets the same id.
package jerasoft

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/producers/edge"
	"github.com/provbus/provbus/schemas"
)

// Name is the source name (topics jerasoft.*, path
// /v1/sources/jerasoft/events).
const Name = "jerasoft"

// Source is the JeraSoft edge. Without a token it refuses every request.
type Source struct {
	tokens     []token
	header     string
	queryParam string
}

// token is one installation's token, hashed so the constant-time compare
// does not leak its length.
type token struct {
	instance string
	hash     [sha256.Size]byte
}

// New returns the JeraSoft edge. auth.Token is the default installation
// (instance ""), auth.Instances the named ones. The token is read from
// auth.Header (an optional "Bearer " prefix is ignored) and, only when
// auth.QueryParam is set, from that query parameter: a token in a URL
// ends up in proxy logs.
func New(auth config.TokenAuth) *Source {
	s := &Source{header: auth.Header, queryParam: auth.QueryParam}
	if auth.Token != "" {
		s.tokens = append(s.tokens, token{"", sha256.Sum256([]byte(auth.Token))})
	}
	for _, in := range auth.Instances {
		s.tokens = append(s.tokens, token{in.Name, sha256.Sum256([]byte(in.Token))})
	}
	return s
}

// Name implements edge.Source.
func (s *Source) Name() string { return Name }

// Status implements edge.Source: VCS gets 200 (with the accepted ids).
func (s *Source) Status() int { return http.StatusOK }

// Authenticate implements edge.Source, returning the instance whose token
// matches. Every token is compared, in constant time.
func (s *Source) Authenticate(r *http.Request, _ []byte) (string, error) {
	if len(s.tokens) == 0 {
		return "", fmt.Errorf("%w: %w", edge.ErrUnauthorized, edge.ErrNoCredentials)
	}
	var got string
	if s.header != "" {
		got = strings.TrimSpace(r.Header.Get(s.header))
		got = strings.TrimPrefix(got, "Bearer ")
	}
	if got == "" && s.queryParam != "" {
		got = r.URL.Query().Get(s.queryParam)
	}
	if got == "" {
		return "", fmt.Errorf("%w: token required", edge.ErrUnauthorized)
	}
	h := sha256.Sum256([]byte(got))
	match := -1
	for i, t := range s.tokens {
		if subtle.ConstantTimeCompare(h[:], t.hash[:]) == 1 && match < 0 {
			match = i
		}
	}
	if match < 0 {
		return "", fmt.Errorf("%w: bad token", edge.ErrUnauthorized)
	}
	return s.tokens[match].instance, nil
}

// Field implements edge.Source.
func (s *Source) Field(id string) string {
	if id == "object_id" {
		return "event.object_id"
	}
	return "data." + id
}

// Parse implements edge.Source.
func (s *Source) Parse(body []byte, received time.Time) ([]schemas.Event, error) {
	return Parse(body, received)
}

type payload struct {
	Event json.RawMessage `json:"event"`
	Data  json.RawMessage `json:"data"`
}

type event struct {
	DT       json.RawMessage `json:"dt"`
	EventsID json.RawMessage `json:"events_id"`
	ObjectID json.RawMessage `json:"object_id"`
}

// Parse turns a VCS payload (or a JSON array of them) into events.
// event.events_id (the event type) is required; event.object_id (number or
// string) becomes object_id; event.dt (ISO 8601) is optional; data may be
// anything, {} included. Attributes hold "event.<field>" and data
// flattened as "data.<path>".
func Parse(body []byte, received time.Time) ([]schemas.Event, error) {
	return edge.ParseElements(body, received, parseElement)
}

func parseElement(i int, raw json.RawMessage, received time.Time, bad *edge.Error) (schemas.Event, bool) {
	n := len(bad.Problems)
	var p payload
	if f, ok := edge.Fields(raw, "event", "data"); ok {
		p.Event, p.Data = f[0], f[1] // one scan instead of a decode
	} else if !edge.IsObject(raw) || json.Unmarshal(raw, &p) != nil {
		bad.Add(i, "", edge.MsgNotObject)
		return schemas.Event{}, false
	}
	var e event
	if !edge.DecodeObject(i, "event", p.Event, &e, bad) {
		return schemas.Event{}, false
	}
	eventType, err := edge.Text(e.EventsID)
	switch {
	case err != nil || (eventType != nil && e.EventsID[0] != '"'):
		bad.Add(i, "event.events_id", edge.MsgWrongType+": want a string")
	case eventType == nil:
		bad.Add(i, "event.events_id", edge.MsgMissing)
	}
	objectID, err := edge.Text(e.ObjectID)
	if err != nil {
		bad.Add(i, "event.object_id", err.Error())
	}
	var occurred *time.Time
	if d, err := edge.Text(e.DT); err != nil || (d != nil && e.DT[0] != '"') {
		bad.Add(i, "event.dt", edge.MsgWrongType+": want a string")
	} else if d != nil {
		t, ok := edge.ParseTime(*d, edge.ISOLayouts...)
		if !ok {
			bad.Add(i, "event.dt", edge.MsgBadValue+": want an ISO 8601 date-time")
		}
		occurred = &t
	}
	if len(bad.Problems) > n {
		return schemas.Event{}, false
	}
	id, err := edge.HashID(raw)
	if err != nil {
		bad.Add(i, "", edge.MsgMalformed)
		return schemas.Event{}, false
	}
	ev := edge.Direct(Name, received, occurred)
	ev.EventID, ev.EventType, ev.ObjectID = id, *eventType, objectID
	ev.Payload = string(raw)
	ev.Attributes = make(map[string]string, edge.MemberHint(raw))
	edge.Flatten("event", p.Event, ev.Attributes)
	edge.Flatten("data", p.Data, ev.Attributes)
	return ev, true
}
