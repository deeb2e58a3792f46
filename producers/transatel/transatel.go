// Package transatel is the edge for Transatel connectivity-management
// webhooks: it verifies the X-TSL-Signature-256 HMAC over the raw body and
// turns {"header": {eventId, eventType, eventDate}, "body": {…}} messages
// into provbus events.
//
// Transatel adds fields to its bodies without notice, so unknown fields are
// never an error: every header and body field is kept in attributes under
// its JSON path ("header.eventId", "body.status", nested objects as dotted
// keys "body.contact.email").
package transatel

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/producers/edge"
	"github.com/provbus/provbus/schemas"
)

// Name is the source name (topics transatel.*, path
// /v1/sources/transatel/events).
const Name = "transatel"

// SignatureHeader carries "sha256=<hex HMAC-SHA256(secret, raw body)>".
const SignatureHeader = "X-TSL-Signature-256"

// Source is the Transatel edge. Without secrets it refuses every request.
type Source struct {
	keys []key
}

// key is one installation's signing secrets.
type key struct {
	instance string
	secrets  [][]byte
}

// New returns the Transatel edge: auth.Secrets are the default
// installation's (instance ""), auth.Instances the named ones'. Every
// secret of an installation is accepted, so a new secret can be added
// before the old one is retired.
func New(auth config.HMACAuth) *Source {
	s := &Source{}
	add := func(instance string, secrets []string) {
		k := key{instance: instance}
		for _, sec := range secrets {
			if sec != "" { // an unset secret is no key: anyone can sign with it
				k.secrets = append(k.secrets, []byte(sec))
			}
		}
		s.keys = append(s.keys, k)
	}
	if len(auth.Secrets) > 0 {
		add("", auth.Secrets)
	}
	for _, in := range auth.Instances {
		add(in.Name, in.Secrets)
	}
	return s
}

// Name implements edge.Source.
func (s *Source) Name() string { return Name }

// Status implements edge.Source: Transatel expects 204 No Content.
func (s *Source) Status() int { return http.StatusNoContent }

// Authenticate implements edge.Source: the signature must match one of the
// configured secrets, compared in constant time over the raw bytes; the
// instance is the one that secret belongs to.
func (s *Source) Authenticate(r *http.Request, body []byte) (string, error) {
	if len(s.keys) == 0 {
		return "", fmt.Errorf("%w: %w", edge.ErrUnauthorized, edge.ErrNoCredentials)
	}
	sig := strings.TrimSpace(r.Header.Get(SignatureHeader))
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return "", fmt.Errorf("%w: %s missing or not sha256=<hex>", edge.ErrUnauthorized, SignatureHeader)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return "", fmt.Errorf("%w: %s is not a hex SHA-256", edge.ErrUnauthorized, SignatureHeader)
	}
	match := -1
	for i, k := range s.keys {
		if Verify(k.secrets, body, got) && match < 0 {
			match = i
		}
	}
	if match < 0 {
		return "", fmt.Errorf("%w: signature does not match", edge.ErrUnauthorized)
	}
	return s.keys[match].instance, nil
}

// Verify reports whether mac is the HMAC-SHA256 of body under any of the
// secrets. Every secret is tried, so timing does not say which one
// matched.
func Verify(secrets [][]byte, body, mac []byte) bool {
	ok := false
	for _, sec := range secrets {
		h := hmac.New(sha256.New, sec)
		h.Write(body)
		if hmac.Equal(h.Sum(nil), mac) {
			ok = true
		}
	}
	return ok
}

// Sign returns the X-TSL-Signature-256 value for body under secret, for
// senders, tests and simulators.
func Sign(secret, body []byte) string {
	h := hmac.New(sha256.New, secret)
	h.Write(body)
	return "sha256=" + hex.EncodeToString(h.Sum(nil))
}

// Field implements edge.Source.
func (s *Source) Field(id string) string {
	switch id {
	case "msisdn":
		return "body.msisdn"
	case "sim_serial":
		return "body.simSerial"
	case "imsi":
		return "body.imsi"
	case "transaction_id":
		return "body.transactionId"
	}
	return "body." + id
}

// Parse implements edge.Source.
func (s *Source) Parse(body []byte, received time.Time) ([]schemas.Event, error) {
	return Parse(body, received)
}

type message struct {
	Header json.RawMessage `json:"header"`
	Body   json.RawMessage `json:"body"`
}

type header struct {
	EventID   json.RawMessage `json:"eventId"`
	EventType json.RawMessage `json:"eventType"`
	EventDate json.RawMessage `json:"eventDate"`
}

type body struct {
	MSISDN        json.RawMessage `json:"msisdn"`
	SIMSerial     json.RawMessage `json:"simSerial"`
	IMSI          json.RawMessage `json:"imsi"`
	TransactionID json.RawMessage `json:"transactionId"`
}

// Parse turns a Transatel body (one message, or a JSON array of them as
// `provbus import` may send) into events. header.eventId and
// header.eventType are required; header.eventDate is optional (RFC 3339
// and common ISO 8601 variants); body must be an object.
func Parse(raw []byte, received time.Time) ([]schemas.Event, error) {
	return edge.ParseElements(raw, received, parseElement)
}

func parseElement(i int, raw json.RawMessage, received time.Time, bad *edge.Error) (schemas.Event, bool) {
	n := len(bad.Problems)
	var m message
	if f, ok := edge.Fields(raw, "header", "body"); ok {
		m.Header, m.Body = f[0], f[1] // one scan instead of a decode
	} else if !edge.IsObject(raw) || json.Unmarshal(raw, &m) != nil {
		bad.Add(i, "", edge.MsgNotObject)
		return schemas.Event{}, false
	}
	var h header
	edge.DecodeObject(i, "header", m.Header, &h, bad)
	var b body
	if f, ok := edge.Fields(m.Body, "msisdn", "simSerial", "imsi", "transactionId"); ok {
		b = body{MSISDN: f[0], SIMSerial: f[1], IMSI: f[2], TransactionID: f[3]}
	} else {
		edge.DecodeObject(i, "body", m.Body, &b, bad)
	}
	if len(bad.Problems) > n {
		return schemas.Event{}, false
	}
	eventID := required(i, "header.eventId", h.EventID, bad)
	eventType := required(i, "header.eventType", h.EventType, bad)
	if eventType != nil && h.EventType[0] != '"' {
		bad.Add(i, "header.eventType", edge.MsgWrongType+": want a string")
	}
	var occurred *time.Time
	if d, err := edge.Text(h.EventDate); err != nil || (d != nil && h.EventDate[0] != '"') {
		bad.Add(i, "header.eventDate", edge.MsgWrongType+": want a string")
	} else if d != nil {
		t, ok := edge.ParseTime(*d, edge.ISOLayouts...)
		if !ok {
			bad.Add(i, "header.eventDate", edge.MsgBadValue+": want an RFC 3339 date-time")
		}
		occurred = &t
	}
	ev := edge.Direct(Name, received, occurred)
	ev.MSISDN = optional(i, "body.msisdn", b.MSISDN, bad)
	ev.SIMSerial = optional(i, "body.simSerial", b.SIMSerial, bad)
	ev.IMSI = optional(i, "body.imsi", b.IMSI, bad)
	ev.TransactionID = optional(i, "body.transactionId", b.TransactionID, bad)
	if len(bad.Problems) > n {
		return schemas.Event{}, false
	}
	ev.EventID, ev.EventType = *eventID, *eventType
	ev.Payload = string(raw)
	ev.Attributes = make(map[string]string, edge.MemberHint(raw))
	edge.Flatten("header", m.Header, ev.Attributes)
	edge.Flatten("body", m.Body, ev.Attributes)
	return ev, true
}

func required(i int, field string, raw json.RawMessage, bad *edge.Error) *string {
	v, err := edge.Text(raw)
	switch {
	case err != nil:
		bad.Add(i, field, err.Error())
	case v == nil:
		bad.Add(i, field, edge.MsgMissing)
	}
	return v
}

func optional(i int, field string, raw json.RawMessage, bad *edge.Error) *string {
	v, err := edge.Text(raw)
	if err != nil {
		bad.Add(i, field, err.Error())
	}
	return v
}
