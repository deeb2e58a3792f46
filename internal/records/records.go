// Package records turns provbus values into Kafka records and back: the
// record key, the wire-format value and the headers of design §2, and the
// DLQ headers, defined once for every producer and processor.
package records

import (
	"context"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/schemas"
)

// DLQ header keys: why a record could not be processed and where it was.
const (
	HeaderDLQError     = "provbus.dlq.error"     // the error text
	HeaderDLQReason    = "provbus.dlq.reason"    // short class: not_wire_format, unknown_schema, undecodable, unroutable
	HeaderDLQTopic     = "provbus.dlq.topic"     // source topic
	HeaderDLQPartition = "provbus.dlq.partition" // source partition
	HeaderDLQOffset    = "provbus.dlq.offset"    // source offset
	HeaderDLQGroup     = "provbus.dlq.group"     // consumer group that gave up
	HeaderDLQTime      = "provbus.dlq.failed_at" // RFC 3339 time of the failure
)

// Event encodes ev for topic and returns the record: key = the entity id,
// value = Confluent wire-format Avro, headers event_type, source, origin
// and, for a named source instance, instance.
func Event(codec *schemas.Codec, topic, key string, ev *schemas.Event) (*kgo.Record, error) {
	value, err := codec.Encode(nil, topic, ev)
	if err != nil {
		return nil, err
	}
	return EventRecord(topic, key, value, ev), nil
}

// EventRecord is Event for a value the caller has already encoded (the
// processors' runner encodes into a reused slab).
func EventRecord(topic, key string, value []byte, ev *schemas.Event) *kgo.Record {
	headers := make([]kgo.RecordHeader, 3, 4)
	headers[0] = kgo.RecordHeader{Key: schemas.HeaderEventType, Value: []byte(ev.EventType)}
	headers[1] = kgo.RecordHeader{Key: schemas.HeaderSource, Value: []byte(ev.Source)}
	headers[2] = kgo.RecordHeader{Key: schemas.HeaderOrigin, Value: []byte(ev.Origin)}
	if ev.Instance != nil {
		headers = append(headers, kgo.RecordHeader{Key: schemas.HeaderInstance, Value: []byte(*ev.Instance)})
	}
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: value, Headers: headers}
}

// Quarantine encodes q for provbus.quarantine, keyed by source so one
// noisy source stays in order within its partition.
func Quarantine(codec *schemas.Codec, q *schemas.Quarantined) (*kgo.Record, error) {
	value, err := codec.Encode(nil, schemas.QuarantineTopic, q)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{
		Topic: schemas.QuarantineTopic,
		Key:   []byte(q.Source),
		Value: value,
		Headers: []kgo.RecordHeader{
			{Key: schemas.HeaderSource, Value: []byte(q.Source)},
			{Key: "reason", Value: []byte(q.Reason)},
		},
	}, nil
}

// DLQ wraps a record that could not be processed: the original key, value
// and headers, plus headers naming the failure and the record's origin.
func DLQ(src *kgo.Record, group, reason string, cause error, failedAt string) *kgo.Record {
	headers := make([]kgo.RecordHeader, 0, len(src.Headers)+7)
	headers = append(headers, src.Headers...)
	headers = append(headers,
		kgo.RecordHeader{Key: HeaderDLQReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: HeaderDLQError, Value: []byte(cause.Error())},
		kgo.RecordHeader{Key: HeaderDLQTopic, Value: []byte(src.Topic)},
		kgo.RecordHeader{Key: HeaderDLQPartition, Value: []byte(strconv.Itoa(int(src.Partition)))},
		kgo.RecordHeader{Key: HeaderDLQOffset, Value: []byte(strconv.FormatInt(src.Offset, 10))},
		kgo.RecordHeader{Key: HeaderDLQGroup, Value: []byte(group)},
		kgo.RecordHeader{Key: HeaderDLQTime, Value: []byte(failedAt)},
	)
	return &kgo.Record{Topic: schemas.DLQTopic, Key: src.Key, Value: src.Value, Headers: headers}
}

// Header returns the value of the first header named key.
func Header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// Use prepares codec to encode every topic in topics, with the schema
// schemas.ValueSchema derives from each topic's name.
func Use(ctx context.Context, codec *schemas.Codec, topics ...string) error {
	for _, t := range topics {
		text, err := schemas.ValueSchema(t)
		if err != nil {
			return err
		}
		if _, err := codec.Use(ctx, t, text); err != nil {
			return err
		}
	}
	return nil
}
