// Package state is delivery's durable state in Kafka: the rows of the
// compacted topics provbus.deliver.state (events waiting to be delivered),
// provbus.deliver.failed (events that failed for good) and
// provbus.deliver.control (pause flags and operator requests), their keys,
// and reading a topic's partitions back to their end offsets. There is no
// database: a restarted or rebalanced instance restores from these topics.
package state

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/provbus/provbus/topology"
)

// Row is one event in provbus.deliver.state (waiting) or
// provbus.deliver.failed (failed for good). Value is the handler record's
// value as it was read, so a row outlives the handler topic's retention.
type Row struct {
	Handler   string    `json:"handler"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Key       string    `json:"key"`
	EventID   string    `json:"event_id,omitempty"`
	EventType string    `json:"event_type,omitempty"`
	Value     []byte    `json:"value"`
	Attempt   int       `json:"attempt"`
	FirstAt   time.Time `json:"first_at,omitzero"`
	NextAt    time.Time `json:"next_at,omitzero"`
	Blocked   bool      `json:"blocked,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	// FailedAt and Reason are set on provbus.deliver.failed rows.
	FailedAt time.Time `json:"failed_at,omitzero"`
	Reason   string    `json:"reason,omitempty"`
}

// PendingKey is a row's key in provbus.deliver.state.
func PendingKey(handler string, partition int32, offset int64) string {
	return topology.Slug(handler) + "/" + strconv.Itoa(int(partition)) + "/" + strconv.FormatInt(offset, 10)
}

// FailedKey is a row's key in provbus.deliver.failed: one row per event,
// so a redriven event that fails again replaces its old row.
func FailedKey(handler, eventID string) string { return topology.Slug(handler) + "/" + eventID }

// OfHandler reports whether a state or failed key belongs to handler.
func OfHandler(key, handler string) bool {
	return strings.HasPrefix(key, topology.Slug(handler)+"/")
}

// Encode returns the row's JSON.
func (r *Row) Encode() []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // a Row always marshals
	}
	return b
}

// DecodeRow reads a row.
func DecodeRow(b []byte) (*Row, error) {
	var r Row
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("state row: %w", err)
	}
	return &r, nil
}
