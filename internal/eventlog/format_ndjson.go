package eventlog

import (
	"bufio"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/provbus/provbus/internal/jsonstr"
	"github.com/provbus/provbus/schemas"
)

// ndjson writes one JSON object per line. It appends by hand into one reused
// buffer: replay's throughput is decode plus this, and reflection-based
// encoding/json with a map per record would cost more than the decode.
type ndjson struct {
	w     *bufio.Writer
	buf   []byte
	keys  []string
	cause bool
}

func newNDJSON(w io.Writer, o WriterOptions) *ndjson {
	return &ndjson{w: bufio.NewWriterSize(w, 64<<10), buf: make([]byte, 0, 4096), cause: o.Cause}
}

func (n *ndjson) Write(e *Entry) error {
	n.buf = appendEntryJSON(n.buf[:0], e, &n.keys, n.cause)
	n.buf = append(n.buf, '\n')
	_, err := n.w.Write(n.buf)
	return err
}

func (n *ndjson) Close() error { return n.w.Flush() }

// appendEntryJSON appends e as one JSON object: the Kafka coordinates, every
// envelope field (null where absent), the typed ids of the event's source,
// attributes as an object with sorted keys, the payload as a string, and the
// lineage when withCause.
func appendEntryJSON(b []byte, e *Entry, keys *[]string, withCause bool) []byte {
	r, ev := e.Record, e.Event
	b = append(b, `{"topic":`...)
	b = jsonstr.AppendNoHTML(b, r.Topic)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(r.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, r.Offset, 10)
	b = append(b, `,"timestamp":`...)
	b = appendJSONTime(b, r.Timestamp)
	b = append(b, `,"key":`...)
	if r.Key == nil {
		b = append(b, "null"...)
	} else {
		b = jsonstr.AppendNoHTML(b, string(r.Key))
	}
	b = append(b, `,"event_id":`...)
	b = jsonstr.AppendNoHTML(b, ev.EventID)
	b = append(b, `,"source":`...)
	b = jsonstr.AppendNoHTML(b, ev.Source)
	b = append(b, `,"event_type":`...)
	b = jsonstr.AppendNoHTML(b, ev.EventType)
	b = append(b, `,"occurred_at":`...)
	b = appendJSONTime(b, ev.OccurredAt)
	b = append(b, `,"received_at":`...)
	b = appendJSONTime(b, ev.ReceivedAt)
	b = append(b, `,"occurred_at_estimated":`...)
	b = strconv.AppendBool(b, ev.OccurredAtEstimated)
	b = append(b, `,"origin":`...)
	b = jsonstr.AppendNoHTML(b, ev.Origin)
	b = append(b, `,"parent_event_id":`...)
	b = appendJSONOptString(b, ev.ParentEventID)
	b = append(b, `,"inherited_from":`...)
	b = appendJSONOptString(b, ev.InheritedFrom)
	b = append(b, `,"fan_out_index":`...)
	b = appendJSONOptInt(b, ev.FanOutIndex)
	b = append(b, `,"fan_out_count":`...)
	b = appendJSONOptInt(b, ev.FanOutCount)
	b = append(b, `,"instance":`...)
	b = appendJSONOptString(b, ev.Instance)
	b = appendJSONIDs(b, ev)
	b = append(b, `,"attributes":{`...)
	ks := (*keys)[:0]
	for k := range ev.Attributes {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for i, k := range ks {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.AppendNoHTML(b, k)
		b = append(b, ':')
		b = jsonstr.AppendNoHTML(b, ev.Attributes[k])
	}
	*keys = ks
	b = append(b, `},"payload":`...)
	b = jsonstr.AppendNoHTML(b, ev.Payload)
	if withCause {
		b = append(b, `,"cause":[`...)
		for i, c := range e.Cause {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.AppendNoHTML(b, c)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendJSONIDs writes the typed ids of the event's own source (null where
// absent), so every line of one source has the same keys.
func appendJSONIDs(b []byte, ev *schemas.Event) []byte {
	opt := func(b []byte, name string, p *int64) []byte {
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		if p == nil {
			return append(b, "null"...)
		}
		return strconv.AppendInt(b, *p, 10)
	}
	str := func(b []byte, name string, p *string) []byte {
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		return appendJSONOptString(b, p)
	}
	switch ev.Source {
	case "portabilling":
		b = opt(b, "i_env", ev.IEnv)
		b = opt(b, "i_customer", ev.ICustomer)
		b = opt(b, "i_account", ev.IAccount)
		b = opt(b, "i_product", ev.IProduct)
		b = opt(b, "i_did", ev.IDID)
		b = str(b, "did_number", ev.DIDNumber)
		b = opt(b, "i_invoice", ev.IInvoice)
		b = opt(b, "i_payment_transaction", ev.IPaymentTransaction)
		b = opt(b, "i_vendor", ev.IVendor)
		b = opt(b, "i_connection", ev.IConnection)
	case "transatel":
		b = str(b, "msisdn", ev.MSISDN)
		b = str(b, "sim_serial", ev.SIMSerial)
		b = str(b, "imsi", ev.IMSI)
		b = str(b, "transaction_id", ev.TransactionID)
	case "jerasoft":
		b = str(b, "object_id", ev.ObjectID)
	}
	return b
}

func appendJSONOptString(b []byte, p *string) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	return jsonstr.AppendNoHTML(b, *p)
}

func appendJSONOptInt(b []byte, p *int32) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, int64(*p), 10)
}

func appendJSONTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeLayout)
	return append(b, '"')
}

// Flush writes out what is buffered.
func (n *ndjson) Flush() error { return n.w.Flush() }
