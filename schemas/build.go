package schemas

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Namespace is the Avro namespace of every provbus record.
const Namespace = "io.provbus.v1"

// field is one Avro record field, marshalled in the order written here.
type field struct {
	Name    string `json:"name"`
	Type    any    `json:"type"`
	Default any    `json:"default,omitempty"`
	Doc     string `json:"doc,omitempty"`
}

// nullDefault marks a field whose default is JSON null (omitempty would
// drop a plain nil).
type nullDefault struct{}

func (nullDefault) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

type record struct {
	Type      string  `json:"type"`
	Name      string  `json:"name"`
	Namespace string  `json:"namespace"`
	Doc       string  `json:"doc,omitempty"`
	Fields    []field `json:"fields"`
}

var timestampMillis = map[string]string{"type": "long", "logicalType": "timestamp-millis"}

func envelopeHead() []field {
	return []field{
		{Name: "event_id", Type: "string", Doc: "stable event id: the source's id, a hash of the body where the source has none, or derived from the parent for inherited events"},
		{Name: "source", Type: "string", Doc: "source system: portabilling, transatel or jerasoft"},
		{Name: "event_type", Type: "string", Doc: "canonical event type name from the catalog"},
		{Name: "occurred_at", Type: timestampMillis, Doc: "when the event happened at the source (the receive time when occurred_at_estimated)"},
		{Name: "received_at", Type: timestampMillis, Doc: "when provbus received the event"},
		{Name: "occurred_at_estimated", Type: "boolean", Default: false, Doc: "true when the source sent no event time and occurred_at is the receive time"},
		{Name: "origin", Type: map[string]any{"type": "enum", "name": "Origin", "symbols": []string{OriginDirect, OriginInherited}}, Doc: "DIRECT as received, or INHERITED from a customer or product event"},
		{Name: "parent_event_id", Type: []string{"null", "string"}, Default: nullDefault{}, Doc: "event_id of the customer or product event this one was inherited from"},
		{Name: "inherited_from", Type: []any{"null", map[string]any{"type": "enum", "name": "InheritedFrom", "symbols": []string{InheritedFromCustomer, InheritedFromProduct}}}, Default: nullDefault{}, Doc: "the level the event was inherited from"},
		{Name: "fan_out_index", Type: []string{"null", "int"}, Default: nullDefault{}, Doc: "0-based position of this event in its parent's fan-out"},
		{Name: "fan_out_count", Type: []string{"null", "int"}, Default: nullDefault{}, Doc: "number of events the parent fanned out to"},
		{Name: "instance", Type: []string{"null", "string"}, Default: nullDefault{}, Doc: "the source installation the event came from (its credentials name it); null for the default one. A named instance's event_id is <instance>:<source id>"},
	}
}

func envelopeTail() []field {
	return []field{
		{Name: "attributes", Type: map[string]string{"type": "map", "values": "string"}, Default: map[string]string{}, Doc: "every variable the source sent, as strings"},
		{Name: "payload", Type: "string", Doc: "the original JSON of the event"},
	}
}

// EventSchema returns the Avro schema (JSON) of an event topic's values: the
// envelope plus the typed ids of the given sources. Domain topics name their
// own source; topics that mix sources (handler topics, the inherited topic)
// name them all.
func EventSchema(topic, doc string, sources ...string) (string, error) {
	fields := envelopeHead()
	for _, s := range sources {
		ids := idFields[s]
		if ids == nil {
			return "", fmt.Errorf("schemas: unknown source %q", s)
		}
		for _, id := range ids {
			typ := []string{"null", "string"}
			if id.Long {
				typ = []string{"null", "long"}
			}
			fields = append(fields, field{Name: id.Name, Type: typ, Default: nullDefault{}, Doc: id.Doc})
		}
	}
	fields = append(fields, envelopeTail()...)
	return marshal(record{Type: "record", Name: RecordName(topic), Namespace: Namespace, Doc: doc, Fields: fields})
}

// Quarantined is a well-formed request provbus could not turn into a known
// event (unknown event type, unparseable element): kept whole, never dropped.
type Quarantined struct {
	Source      string    `avro:"source"`
	ReceivedAt  time.Time `avro:"received_at"`
	Reason      string    `avro:"reason"`
	EventType   *string   `avro:"event_type"`
	EventID     *string   `avro:"event_id"`
	ContentType string    `avro:"content_type"`
	RemoteAddr  string    `avro:"remote_addr"`
	Body        []byte    `avro:"body"`
}

// QuarantineSchema returns the Avro schema of provbus.quarantine values.
func QuarantineSchema() (string, error) {
	return marshal(record{
		Type: "record", Name: "Quarantined", Namespace: Namespace,
		Doc: "an event provbus received but could not route: the raw body and the reason",
		Fields: []field{
			{Name: "source", Type: "string", Doc: "source the request came in on"},
			{Name: "received_at", Type: timestampMillis},
			{Name: "reason", Type: "string", Doc: "why the event was quarantined"},
			{Name: "event_type", Type: []string{"null", "string"}, Default: nullDefault{}, Doc: "the event type as sent, if any"},
			{Name: "event_id", Type: []string{"null", "string"}, Default: nullDefault{}, Doc: "the event id, if one could be read"},
			{Name: "content_type", Type: "string", Default: ""},
			{Name: "remote_addr", Type: "string", Default: ""},
			{Name: "body", Type: "bytes", Doc: "the raw element or body as received"},
		},
	})
}

// RecordName derives an Avro record name from a topic name:
// "portabilling.account.inherited" → "PortabillingAccountInheritedEvent".
func RecordName(topic string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(topic, func(r rune) bool { return !isAlnum(r) }) {
		b.WriteString(strings.ToUpper(part[:1]))
		b.WriteString(part[1:])
	}
	b.WriteString("Event")
	return b.String()
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

func marshal(r record) (string, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", fmt.Errorf("schemas: %w", err)
	}
	return string(b) + "\n", nil
}
