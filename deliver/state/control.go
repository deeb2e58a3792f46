package state

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/provbus/provbus/topology"
)

// Control is a record of provbus.deliver.control: a handler's pause flag
// or an operator request.
type Control struct {
	// Paused is the flag of a <slug>/paused row.
	Paused bool `json:"paused"`
	// Op is "unblock", "skip" or "redrive" on <slug>/op/<id> rows.
	Op string `json:"op,omitempty"`
	// Key and Partition name the record key an unblock or skip is about.
	Key       string `json:"key,omitempty"`
	Partition int32  `json:"partition,omitempty"`
	// EventID names the event an unblock or skip is about: a request
	// acts only while that event is the key's head, so replaying old
	// requests after a restart changes nothing.
	EventID string `json:"event_id,omitempty"`
	// Row is the failed event a redrive sends again.
	Row *Row      `json:"row,omitempty"`
	At  time.Time `json:"at"`
	By  string    `json:"by,omitempty"`
}

// Operator requests.
const (
	OpUnblock = "unblock"
	OpSkip    = "skip"
	OpRedrive = "redrive"
)

// PauseKey is the key of a handler's pause flag.
func PauseKey(handler string) string { return topology.Slug(handler) + "/paused" }

// OpKey is the key of one operator request.
func OpKey(handler, id string) string { return topology.Slug(handler) + "/op/" + id }

// IsOp reports whether a control key is an operator request of handler.
func IsOp(key, handler string) bool { return strings.HasPrefix(key, topology.Slug(handler)+"/op/") }

// Encode returns the record's JSON.
func (c *Control) Encode() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	return b
}

// DecodeControl reads a control record.
func DecodeControl(b []byte) (*Control, error) {
	var c Control
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("control record: %w", err)
	}
	return &c, nil
}
