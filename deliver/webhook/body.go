package webhook

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/provbus/provbus/schemas"
)

// Body is the JSON a connector receives (docs/deliver.md), as a Go type
// for connectors to decode into. Field names are a contract with
// connectors written in other languages. Delivery writes it with
// AppendEventBody, held byte for byte to encoding/json of NewBody
// (TestEventBodyLikeEncodingJSON).
type Body struct {
	EventID       string  `json:"event_id"`
	Handler       string  `json:"handler"`
	EventType     string  `json:"event_type"`
	Origin        string  `json:"origin"`
	InheritedFrom *string `json:"inherited_from"`
	ParentEventID *string `json:"parent_event_id"`
	Source        string  `json:"source"`
	// Instance is the source installation the event came from
	// (ingest.auth.<source>.instances); absent for the default one.
	Instance   *string           `json:"instance,omitempty"`
	OccurredAt string            `json:"occurred_at"`
	ReceivedAt string            `json:"received_at"`
	Key        string            `json:"key"`
	IDs        map[string]any    `json:"ids"`
	Attributes map[string]string `json:"attributes"`
	// Data is the source's original event JSON, passed through unparsed
	// (whitespace removed); a payload that is not JSON goes as a string.
	Data json.RawMessage `json:"data"`
	// State is what provbus knew of the entity when the body was built
	// (deliver/enrich); left out when the handler's include_state is off.
	State   json.RawMessage `json:"state,omitempty"`
	Attempt int             `json:"attempt"`
}

// NewBody builds the body of attempt for ev, read from the topic of handler
// under key.
func NewBody(handler, key string, ev *schemas.Event, attempt int) Body {
	b := Body{
		EventID: ev.EventID, Handler: handler, EventType: ev.EventType, Origin: ev.Origin,
		InheritedFrom: ev.InheritedFrom, ParentEventID: ev.ParentEventID, Source: ev.Source,
		Instance:   ev.Instance,
		OccurredAt: ev.OccurredAt.UTC().Format(time.RFC3339Nano),
		ReceivedAt: ev.ReceivedAt.UTC().Format(time.RFC3339Nano),
		Key:        key, IDs: IDs(ev), Attributes: ev.Attributes, Attempt: attempt,
		Data: json.RawMessage(ev.Payload), // checked once, by Marshal
	}
	if b.Attributes == nil {
		b.Attributes = map[string]string{}
	}
	return b
}

// IDs returns the typed ids ev carries, by their Avro field names: numbers
// for numeric ids, strings for the others; absent ids are left out.
func IDs(ev *schemas.Event) map[string]any {
	ids := map[string]any{}
	for _, src := range schemas.Sources {
		for _, f := range schemas.IDFields(src) {
			v, ok := ev.Key(f.Name)
			if !ok {
				continue
			}
			if f.Long {
				ids[f.Name] = json.Number(v)
			} else {
				ids[f.Name] = v
			}
		}
	}
	return ids
}

// appendCompact appends src, checked and without insignificant
// whitespace; dst is unchanged when src is not JSON.
func appendCompact(dst, src []byte) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	if err := json.Compact(buf, src); err != nil {
		return dst, err
	}
	return buf.Bytes(), nil
}
