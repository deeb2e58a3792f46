// Package portabilling is the edge for PortaBilling's External System
// Provisioning Framework (ESPF): it authenticates ESPF's HTTP Basic
// credentials and turns an ESPF body — {"event_type": …, "variables": {…}}
// or a JSON array of them — into provbus events.
//
// Every variable is kept in attributes as a string; the known ids become
// typed fields. ESPF sends ids as numbers or as numeric strings depending
// on the release, so both are accepted.
package portabilling

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/producers/edge"
	"github.com/provbus/provbus/schemas"
)

// Name is the source name (topics portabilling.*, path
// /v1/sources/portabilling/events).
const Name = "portabilling"

// TimeLayout is ESPF's event_time format, always UTC.
const TimeLayout = "2006-01-02 15:04:05"

// AttrEventIDHash is set to "sha256" in attributes when the event carried
// no i_event and its id is the hash of its canonical JSON.
const AttrEventIDHash = "provbus.event_id_hash"

// Source is the ESPF edge. Without credentials it refuses every request.
type Source struct {
	creds []credential
}

// credential is one installation's HTTP Basic pair, hashed so the
// constant-time compare does not leak lengths.
type credential struct {
	instance   string
	user, pass [sha256.Size]byte
}

// New returns the ESPF edge: auth.Username/Password are the default
// installation (instance ""), auth.Instances the named ones.
func New(auth config.BasicAuth) *Source {
	s := &Source{}
	add := func(instance, user, pass string) {
		if pass == "" { // an unset password is no credential: anyone can send it
			return
		}
		s.creds = append(s.creds, credential{instance, sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))})
	}
	if auth.Username != "" {
		add("", auth.Username, auth.Password)
	}
	for _, in := range auth.Instances {
		add(in.Name, in.Username, in.Password)
	}
	return s
}

// Name implements edge.Source.
func (s *Source) Name() string { return Name }

// Status implements edge.Source: ESPF gets 200 with the accepted ids.
func (s *Source) Status() int { return http.StatusOK }

// Authenticate implements edge.Source with HTTP Basic, returning the
// instance whose credentials match. Every credential is compared, in
// constant time, so timing says neither which one matched nor how long
// they are.
func (s *Source) Authenticate(r *http.Request, _ []byte) (string, error) {
	if len(s.creds) == 0 {
		return "", fmt.Errorf("%w: %w", edge.ErrUnauthorized, edge.ErrNoCredentials)
	}
	u, p, ok := r.BasicAuth()
	if !ok {
		return "", fmt.Errorf("%w: basic credentials required", edge.ErrUnauthorized)
	}
	uh, ph := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
	match := -1
	for i, c := range s.creds {
		okU := subtle.ConstantTimeCompare(uh[:], c.user[:])
		okP := subtle.ConstantTimeCompare(ph[:], c.pass[:])
		if okU&okP == 1 && match < 0 {
			match = i
		}
	}
	if match < 0 {
		return "", fmt.Errorf("%w: bad credentials", edge.ErrUnauthorized)
	}
	return s.creds[match].instance, nil
}

// Field implements edge.Source: typed ids are ESPF variables, the DID
// number being the variable "number".
func (s *Source) Field(id string) string {
	if id == "did_number" {
		return "variables.number"
	}
	return "variables." + id
}

// Parse implements edge.Source.
func (s *Source) Parse(body []byte, received time.Time) ([]schemas.Event, error) {
	return Parse(body, received)
}

// element is an ESPF event as sent. Fields stay raw so a wrong type is
// reported with its field name instead of a generic decode error.
type element struct {
	EventType json.RawMessage `json:"event_type"`
	Variables json.RawMessage `json:"variables"`
}

// ids maps ESPF variables to typed fields.
var ids = [...]struct {
	name string
	set  func(*schemas.Event, *int64)
}{
	{"i_env", func(e *schemas.Event, v *int64) { e.IEnv = v }},
	{"i_customer", func(e *schemas.Event, v *int64) { e.ICustomer = v }},
	{"i_account", func(e *schemas.Event, v *int64) { e.IAccount = v }},
	{"i_product", func(e *schemas.Event, v *int64) { e.IProduct = v }},
	{"i_did", func(e *schemas.Event, v *int64) { e.IDID = v }},
	{"i_invoice", func(e *schemas.Event, v *int64) { e.IInvoice = v }},
	{"i_payment_transaction", func(e *schemas.Event, v *int64) { e.IPaymentTransaction = v }},
	{"i_vendor", func(e *schemas.Event, v *int64) { e.IVendor = v }},
	{"i_connection", func(e *schemas.Event, v *int64) { e.IConnection = v }},
}

// timeLayouts are the event_time layouts tried in order: ESPF's own, then
// the ISO forms scripts send.
var timeLayouts = append([]string{TimeLayout}, edge.ISOLayouts...)

// Parse turns an ESPF body into events. Each element needs a string
// event_type and an object variables; i_event is the event id (the hash of
// the canonical element when absent, flagged by AttrEventIDHash);
// event_time is optional. Every bad element is reported, not just the
// first.
func Parse(body []byte, received time.Time) ([]schemas.Event, error) {
	return edge.ParseElements(body, received, parseElement)
}

func parseElement(i int, raw json.RawMessage, received time.Time, bad *edge.Error) (schemas.Event, bool) {
	if ev, ok := parseFast(raw, received); ok {
		return ev, true
	}
	return parseGeneral(i, raw, received, bad)
}

// parseGeneral is the element parser for any input: it reports every
// problem and accepts every spelling encoding/json does (escaped or
// case-folded keys). parseFast defers to it for anything unusual.
func parseGeneral(i int, raw json.RawMessage, received time.Time, bad *edge.Error) (schemas.Event, bool) {
	n := len(bad.Problems)
	if !edge.IsObject(raw) {
		bad.Add(i, "", edge.MsgNotObject)
		return schemas.Event{}, false
	}
	var el element
	if err := json.Unmarshal(raw, &el); err != nil {
		bad.Add(i, "", edge.MsgMalformed)
		return schemas.Event{}, false
	}
	eventType, err := edge.Text(el.EventType)
	switch {
	case err != nil || (eventType != nil && el.EventType[0] != '"'):
		bad.Add(i, "event_type", edge.MsgWrongType+": want a string")
	case eventType == nil:
		bad.Add(i, "event_type", edge.MsgMissing)
	}
	var vars map[string]json.RawMessage
	switch {
	case edge.IsNull(el.Variables):
		bad.Add(i, "variables", edge.MsgMissing)
	case !edge.IsObject(el.Variables):
		bad.Add(i, "variables", edge.MsgWrongType+": want an object")
	default:
		if err := json.Unmarshal(el.Variables, &vars); err != nil {
			bad.Add(i, "variables", edge.MsgMalformed)
		}
	}
	if len(bad.Problems) > n {
		return schemas.Event{}, false
	}

	var occurred *time.Time
	if t, err := edge.Text(vars["event_time"]); err != nil || (t != nil && vars["event_time"][0] != '"') {
		bad.Add(i, "variables.event_time", edge.MsgWrongType+": want a string")
	} else if t != nil {
		at, ok := edge.ParseTime(*t, timeLayouts...)
		if !ok {
			bad.Add(i, "variables.event_time", edge.MsgBadValue+": want YYYY-MM-DD HH:MM:SS (UTC)")
		}
		occurred = &at
	}
	ev := edge.Direct(Name, received, occurred)
	ev.EventType = *eventType
	ev.Payload = string(raw)
	for _, id := range ids {
		v, err := edge.ID(vars[id.name])
		if err != nil {
			bad.Add(i, "variables."+id.name, err.Error())
			continue
		}
		id.set(&ev, v)
	}
	number, err := edge.Text(vars["number"])
	if err != nil {
		bad.Add(i, "variables.number", err.Error())
	}
	ev.DIDNumber = number
	eventID, err := edge.Text(vars["i_event"])
	if err != nil {
		bad.Add(i, "variables.i_event", err.Error())
	}
	if len(bad.Problems) > n {
		return schemas.Event{}, false
	}

	ev.Attributes = make(map[string]string, len(vars)+1)
	for k, v := range vars {
		ev.Attributes[k] = edge.AttrValue(v)
	}
	if eventID != nil {
		ev.EventID = *eventID
	} else {
		// ESPF always numbers its events; a body without i_event comes
		// from a script or an import, and hashing it keeps re-sends
		// idempotent.
		h, err := edge.HashID(raw)
		if err != nil {
			bad.Add(i, "", edge.MsgMalformed)
			return schemas.Event{}, false
		}
		ev.EventID = h
		ev.Attributes[AttrEventIDHash] = "sha256"
	}
	return ev, true
}
