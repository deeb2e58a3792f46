package webhook

import (
	"encoding/json"
	"time"

	"github.com/provbus/provbus/schemas"
)

// Body is the JSON a connector receives (docs/deliver.md). Field names are
// a contract with connectors written in other languages.
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
	// Data is the source's original event JSON, passed through unparsed.
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
	}
	if b.Attributes == nil {
		b.Attributes = map[string]string{}
	}
	if json.Valid([]byte(ev.Payload)) {
		b.Data = json.RawMessage(ev.Payload)
	} else {
		// A payload that is not JSON (never written by provbus's own
		// producers) still reaches the connector, as a string.
		b.Data, _ = json.Marshal(ev.Payload)
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

// Marshal returns the body's JSON.
func (b Body) Marshal() ([]byte, error) { return json.Marshal(b) }
