package topology

import "time"

// Delivery topics (issue 13). Their names are contracts: operators read
// them with any Kafka client, and `provbus deliver status|redrive` and
// `provbus history` read them back.
const (
	// TopicDeliveries is the history of delivery attempts, one Avro record
	// per attempt (schemas.Delivery), keyed like the handler record.
	TopicDeliveries = "provbus.deliveries"
	// TopicDeliverState holds the events that wait (retrying, blocked, or
	// queued behind one of those), keyed <handler slug>/<partition>/<offset>
	// and written to the partition of their handler record.
	TopicDeliverState = "provbus.deliver.state"
	// TopicDeliverFailed holds every event whose delivery failed for
	// good, keyed <handler slug>/<event_id>, with the record to redrive.
	TopicDeliverFailed = "provbus.deliver.failed"
	// TopicDeliverControl holds pause flags (<handler slug>/paused) and
	// operator requests (<handler slug>/op/<id>) every instance follows.
	TopicDeliverControl = "provbus.deliver.control"
)

// DeliveriesRetention is how long provbus.deliveries keeps attempts: the
// 30 days an event may retry, and a few days to look at the last ones.
const DeliveriesRetention = 35 * 24 * time.Hour

// DeliverGroup is the consumer group delivering a handler's topic, without
// the installation's prefix. Like every group id, it never changes.
func DeliverGroup(handlerName string) string { return "provbus-deliver-" + Slug(handlerName) }
