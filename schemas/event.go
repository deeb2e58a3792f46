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

import "time"

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

// id returns the field of the typed id named field: a numeric id's or a
// string id's pointer (nil when absent), both nil for an unknown name.
func (e *Event) id(field string) (*int64, *string) {
	if get := idGetters[field]; get != nil {
		return get(e)
	}
	return nil, nil
}

// IDGetter returns the function that reads the typed id named field from
// an event (see Key), nil for an unknown name: for a loop over the ids of
// many events, which looks each name up once.
func IDGetter(field string) func(*Event) (*int64, *string) { return idGetters[field] }

// idGetters reads each typed id: a numeric id's pointer or a string id's.
var idGetters = map[string]func(*Event) (*int64, *string){
	"i_env":                 func(e *Event) (*int64, *string) { return e.IEnv, nil },
	"i_customer":            func(e *Event) (*int64, *string) { return e.ICustomer, nil },
	"i_account":             func(e *Event) (*int64, *string) { return e.IAccount, nil },
	"i_product":             func(e *Event) (*int64, *string) { return e.IProduct, nil },
	"i_did":                 func(e *Event) (*int64, *string) { return e.IDID, nil },
	"did_number":            func(e *Event) (*int64, *string) { return nil, e.DIDNumber },
	"i_invoice":             func(e *Event) (*int64, *string) { return e.IInvoice, nil },
	"i_payment_transaction": func(e *Event) (*int64, *string) { return e.IPaymentTransaction, nil },
	"i_vendor":              func(e *Event) (*int64, *string) { return e.IVendor, nil },
	"i_connection":          func(e *Event) (*int64, *string) { return e.IConnection, nil },
	"msisdn":                func(e *Event) (*int64, *string) { return nil, e.MSISDN },
	"sim_serial":            func(e *Event) (*int64, *string) { return nil, e.SIMSerial },
	"imsi":                  func(e *Event) (*int64, *string) { return nil, e.IMSI },
	"transaction_id":        func(e *Event) (*int64, *string) { return nil, e.TransactionID },
	"object_id":             func(e *Event) (*int64, *string) { return nil, e.ObjectID },
}
