// Package schemas holds provbus's record contracts: the event envelope every
// topic carries (design §2), the Avro schemas of each topic's values (.avsc
// files under avro/, usable from any language) and the Confluent-wire-format
// codec that reads and writes them through a Schema Registry.
//
// One Go type, Event, serves every event topic: each topic's schema is the
// envelope plus the typed ids of its source, and Event holds the union of
// those ids. Encoding writes only the fields the topic's schema names;
// decoding with the writer's schema leaves the others nil. That keeps the hot
// path free of maps and type switches.
package schemas

import (
	"strconv"
	"time"
)

// Origin values (Avro enum Origin).
const (
	OriginDirect    = "DIRECT"
	OriginInherited = "INHERITED"
)

// InheritedFrom values (Avro enum InheritedFrom).
const (
	InheritedFromCustomer = "CUSTOMER"
	InheritedFromProduct  = "PRODUCT"
)

// Header keys repeated on every event record so consumers can filter
// without decoding the value.
const (
	HeaderEventType = "event_type"
	HeaderSource    = "source"
	HeaderOrigin    = "origin"
	// HeaderInstance names the source installation; only on events of a
	// named instance.
	HeaderInstance = "instance"
)

// Event is the envelope of design §2 with the typed ids of every source.
// Pointer fields are nullable in Avro; nil means "not carried by this event".
type Event struct {
	EventID   string `avro:"event_id"`
	Source    string `avro:"source"`
	EventType string `avro:"event_type"`
	// OccurredAt is the source's event time; when the source sent none it is
	// the receive time and OccurredAtEstimated is true.
	OccurredAt          time.Time `avro:"occurred_at"`
	ReceivedAt          time.Time `avro:"received_at"`
	OccurredAtEstimated bool      `avro:"occurred_at_estimated"`

	Origin        string  `avro:"origin"`
	ParentEventID *string `avro:"parent_event_id"`
	InheritedFrom *string `avro:"inherited_from"`
	// FanOutIndex and FanOutCount place an inherited event within its
	// parent's fan-out (0-based index, total count).
	FanOutIndex *int32 `avro:"fan_out_index"`
	FanOutCount *int32 `avro:"fan_out_count"`
	// Instance is the source installation (ingest.auth.<source>.instances)
	// the event came from; nil for the default one.
	Instance *string `avro:"instance"`

	// PortaBilling ids.
	IEnv                *int64  `avro:"i_env"`
	ICustomer           *int64  `avro:"i_customer"`
	IAccount            *int64  `avro:"i_account"`
	IProduct            *int64  `avro:"i_product"`
	IDID                *int64  `avro:"i_did"`
	DIDNumber           *string `avro:"did_number"`
	IInvoice            *int64  `avro:"i_invoice"`
	IPaymentTransaction *int64  `avro:"i_payment_transaction"`
	IVendor             *int64  `avro:"i_vendor"`
	IConnection         *int64  `avro:"i_connection"`

	// Transatel ids.
	MSISDN        *string `avro:"msisdn"`
	SIMSerial     *string `avro:"sim_serial"`
	IMSI          *string `avro:"imsi"`
	TransactionID *string `avro:"transaction_id"`

	// JeraSoft ids.
	ObjectID *string `avro:"object_id"`

	// Attributes keeps every source variable as a string, so nothing the
	// source sent is lost even where no typed field exists for it.
	Attributes map[string]string `avro:"attributes"`
	// Payload is the original JSON of the event as received.
	Payload string `avro:"payload"`
}

// Key returns the value of the typed id named field ("i_account", "msisdn",
// "object_id", …) as the UTF-8 record key of design §2, and false when the
// event does not carry it.
func (e *Event) Key(field string) (string, bool) {
	n, s := e.id(field)
	if n != nil {
		return formatID(n)
	}
	return formatString(s)
}

// AppendKey appends what Key returns for field to dst, without allocating
// a string for a numeric id; false (dst unchanged) when the event does not
// carry it.
func (e *Event) AppendKey(dst []byte, field string) ([]byte, bool) {
	n, s := e.id(field)
	switch {
	case n != nil:
		return strconv.AppendInt(dst, *n, 10), true
	case s != nil:
		return append(dst, *s...), true
	}
	return dst, false
}

// id returns the field of the typed id named field: a numeric id's or a
// string id's pointer (nil when absent), both nil for an unknown name.
func (e *Event) id(field string) (*int64, *string) {
	switch field {
	case "i_env":
		return e.IEnv, nil
	case "i_customer":
		return e.ICustomer, nil
	case "i_account":
		return e.IAccount, nil
	case "i_product":
		return e.IProduct, nil
	case "i_did":
		return e.IDID, nil
	case "did_number":
		return nil, e.DIDNumber
	case "i_invoice":
		return e.IInvoice, nil
	case "i_payment_transaction":
		return e.IPaymentTransaction, nil
	case "i_vendor":
		return e.IVendor, nil
	case "i_connection":
		return e.IConnection, nil
	case "msisdn":
		return nil, e.MSISDN
	case "sim_serial":
		return nil, e.SIMSerial
	case "imsi":
		return nil, e.IMSI
	case "transaction_id":
		return nil, e.TransactionID
	case "object_id":
		return nil, e.ObjectID
	}
	return nil, nil
}
