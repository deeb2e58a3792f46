package schemas

import (
	"fmt"
	"strings"

	"github.com/provbus/provbus/topology"
)

// Topic names with a fixed schema role (design §1), as topology defines
// them.
const (
	QuarantineTopic = topology.TopicQuarantine
	// DLQTopic values are the original record bytes, not Avro: a record
	// lands there because it could not be decoded.
	DLQTopic           = topology.TopicDLQ
	HandlerTopicPrefix = topology.HandlerTopicPrefix
)

// ValueSchema returns the Avro schema of a topic's values, derived from the
// topic's name: "<source>.<domain>[.…]" topics carry their source's ids,
// handler topics carry every source's ids, and provbus.quarantine carries
// Quarantined records.
func ValueSchema(topic string) (string, error) {
	switch {
	case topic == QuarantineTopic:
		return QuarantineSchema()
	case topic == DeliveriesTopic:
		return DeliverySchema()
	case strings.HasPrefix(topic, HandlerTopicPrefix):
		return EventSchema(topic, "events routed to handler "+strings.TrimPrefix(topic, HandlerTopicPrefix), Sources...)
	}
	source, _, ok := strings.Cut(topic, ".")
	if ok && idFields[source] != nil {
		return EventSchema(topic, source+" events of topic "+topic, source)
	}
	return "", fmt.Errorf("schemas: topic %q has no value schema", topic)
}
