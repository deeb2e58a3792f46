package schemas

import (
	"time"

	"github.com/provbus/provbus/topology"
)

// DeliveriesTopic is the history of delivery attempts.
const DeliveriesTopic = topology.TopicDeliveries

// Delivery outcomes (Delivery.Outcome): what one attempt came to.
const (
	DeliveryDelivered = "delivered" // a 2xx
	DeliveryRetry     = "retry"     // retriable; another attempt is scheduled
	DeliveryFailed    = "failed"    // permanent failure (skip) or past max age: final
	DeliveryBlocked   = "blocked"   // permanent failure (block): the key waits for an operator
	DeliverySkipped   = "skipped"   // an operator skipped a blocked or waiting event: final
)

// Delivery is one attempt to deliver an event to its handler's connector,
// a record of provbus.deliveries.
type Delivery struct {
	Handler   string `avro:"handler"`
	EventID   string `avro:"event_id"`
	EventType string `avro:"event_type"`
	Key       string `avro:"key"`
	Partition int32  `avro:"partition"`
	Offset    int64  `avro:"offset"`
	Attempt   int32  `avro:"attempt"`
	// StatusCode is the HTTP status, 0 when there was no response.
	StatusCode int32  `avro:"status_code"`
	Outcome    string `avro:"outcome"`
	LatencyMS  int64  `avro:"latency_ms"`
	Error      string `avro:"error"`
	// Response is the first KiB of the response body.
	Response string    `avro:"response"`
	At       time.Time `avro:"at"`
	// NextAt is when the next attempt is due (outcome retry).
	NextAt *time.Time `avro:"next_at"`
}

// DeliverySchema returns the Avro schema of provbus.deliveries values.
func DeliverySchema() (string, error) {
	return marshal(record{
		Type: "record", Name: "Delivery", Namespace: Namespace,
		Doc: "one attempt to deliver a handler's event to its HTTP connector",
		Fields: []field{
			{Name: "handler", Type: "string", Doc: "catalog handler name"},
			{Name: "event_id", Type: "string", Doc: "the event's id, also the request's webhook-id"},
			{Name: "event_type", Type: "string", Default: ""},
			{Name: "key", Type: "string", Doc: "the handler record's key (the entity id)"},
			{Name: "partition", Type: "int", Doc: "partition of the handler record"},
			{Name: "offset", Type: "long", Doc: "offset of the handler record"},
			{Name: "attempt", Type: "int", Doc: "1 for the first attempt"},
			{Name: "status_code", Type: "int", Doc: "HTTP status; 0 when there was no response"},
			{Name: "outcome", Type: "string", Doc: "delivered, retry, failed, blocked or skipped"},
			{Name: "latency_ms", Type: "long", Doc: "request sent to response read"},
			{Name: "error", Type: "string", Default: "", Doc: "the transport error or the reason of the outcome"},
			{Name: "response", Type: "string", Default: "", Doc: "the first 1 KiB of the response body"},
			{Name: "at", Type: timestampMillis, Doc: "when the attempt ended"},
			{Name: "next_at", Type: []any{"null", timestampMillis}, Default: nullDefault{}, Doc: "when the next attempt is due (outcome retry)"},
		},
	})
}
