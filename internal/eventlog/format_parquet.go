package eventlog

import (
	"io"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// parquetRow is one row of the Parquet output: the Kafka coordinates, every
// envelope field and the typed ids of every source as typed, nullable
// columns, timestamps as TIMESTAMP(MILLIS, UTC) (Kafka's and Avro's
// precision), attributes as a MAP<STRING,STRING>, the payload as a string
// and the lineage (history) as a LIST. The columns do not depend on the
// data, so files of different windows or selections union cleanly.
// TestParquetColumnsCoverEveryID keeps it in step with schemas.IDFields.
type parquetRow struct {
	Topic     string    `parquet:"topic,dict"`
	Partition int32     `parquet:"partition"`
	Offset    int64     `parquet:"offset"`
	Timestamp time.Time `parquet:"timestamp,timestamp(millisecond)"`
	Key       *string   `parquet:"key,optional"`

	EventID             string    `parquet:"event_id"`
	Source              string    `parquet:"source,dict"`
	EventType           string    `parquet:"event_type,dict"`
	OccurredAt          time.Time `parquet:"occurred_at,timestamp(millisecond)"`
	ReceivedAt          time.Time `parquet:"received_at,timestamp(millisecond)"`
	OccurredAtEstimated bool      `parquet:"occurred_at_estimated"`
	Origin              string    `parquet:"origin,dict"`
	ParentEventID       *string   `parquet:"parent_event_id,optional"`
	InheritedFrom       *string   `parquet:"inherited_from,optional,dict"`
	FanOutIndex         *int32    `parquet:"fan_out_index,optional"`
	FanOutCount         *int32    `parquet:"fan_out_count,optional"`
	Instance            *string   `parquet:"instance,optional,dict"`

	IEnv                *int64  `parquet:"i_env,optional"`
	ICustomer           *int64  `parquet:"i_customer,optional"`
	IAccount            *int64  `parquet:"i_account,optional"`
	IProduct            *int64  `parquet:"i_product,optional"`
	IDID                *int64  `parquet:"i_did,optional"`
	DIDNumber           *string `parquet:"did_number,optional"`
	IInvoice            *int64  `parquet:"i_invoice,optional"`
	IPaymentTransaction *int64  `parquet:"i_payment_transaction,optional"`
	IVendor             *int64  `parquet:"i_vendor,optional"`
	IConnection         *int64  `parquet:"i_connection,optional"`
	MSISDN              *string `parquet:"msisdn,optional"`
	SIMSerial           *string `parquet:"sim_serial,optional"`
	IMSI                *string `parquet:"imsi,optional"`
	TransactionID       *string `parquet:"transaction_id,optional"`
	ObjectID            *string `parquet:"object_id,optional"`

	Attributes map[string]string `parquet:"attributes"`
	Payload    string            `parquet:"payload"`
	Cause      []string          `parquet:"cause,list"`
}

// parquetRowGroupBytes bounds the memory a Parquet write holds: the row
// group buffered in memory is written out once the values written into it
// reach this size, whatever the window's size.
const parquetRowGroupBytes = 32 << 20

// parquetBatch rows are handed to the Parquet writer at once: row by row,
// its per-call work costs a third of the replay's throughput.
const parquetBatch = 256

// parquetWriter streams rows into one Parquet file, zstd-compressed, a row
// group at a time.
type parquetWriter struct {
	w *parquet.GenericWriter[parquetRow]
	// rows wait for the next batch. They reference the entries' values
	// (strings, id pointers, the attributes map), which the Writer
	// contract keeps unchanged after Write.
	rows    []parquetRow
	pending int // approximate bytes in the current row group
	// rowGroupBytes is parquetRowGroupBytes (smaller in tests).
	rowGroupBytes int
}

func newParquet(w io.Writer, _ WriterOptions) *parquetWriter {
	return &parquetWriter{
		w: parquet.NewGenericWriter[parquetRow](w,
			// The fastest zstd level: no bigger than the default on the
			// benchmark's events, for less CPU (docs/decisions.md).
			parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}),
			parquet.CreatedBy("provbus", "", ""),
			// Min/max of a JSON document or of free-form attribute values
			// prune nothing and cost a comparison per value.
			parquet.SkipPageBounds("payload"),
			parquet.SkipPageBounds("attributes", "key_value", "value"),
		),
		rows:          make([]parquetRow, 0, parquetBatch),
		rowGroupBytes: parquetRowGroupBytes,
	}
}

func (p *parquetWriter) Write(e *Entry) error {
	r, ev := e.Record, e.Event
	var key *string
	if r.Key != nil {
		k := string(r.Key)
		key = &k
	}
	p.rows = append(p.rows, parquetRow{
		Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UTC(), Key: key,
		EventID: ev.EventID, Source: ev.Source, EventType: ev.EventType,
		OccurredAt: ev.OccurredAt.UTC(), ReceivedAt: ev.ReceivedAt.UTC(), OccurredAtEstimated: ev.OccurredAtEstimated,
		Origin: ev.Origin, ParentEventID: ev.ParentEventID, InheritedFrom: ev.InheritedFrom, Instance: ev.Instance,
		FanOutIndex: ev.FanOutIndex, FanOutCount: ev.FanOutCount,
		IEnv: ev.IEnv, ICustomer: ev.ICustomer, IAccount: ev.IAccount, IProduct: ev.IProduct,
		IDID: ev.IDID, DIDNumber: ev.DIDNumber, IInvoice: ev.IInvoice,
		IPaymentTransaction: ev.IPaymentTransaction, IVendor: ev.IVendor, IConnection: ev.IConnection,
		MSISDN: ev.MSISDN, SIMSerial: ev.SIMSerial, IMSI: ev.IMSI, TransactionID: ev.TransactionID,
		ObjectID: ev.ObjectID, Attributes: ev.Attributes, Payload: ev.Payload, Cause: e.Cause,
	})
	p.pending += 200 + len(r.Key) + len(ev.Payload)
	for k, v := range ev.Attributes {
		p.pending += len(k) + len(v) + 8
	}
	full := p.pending >= p.rowGroupBytes
	if len(p.rows) < cap(p.rows) && !full {
		return nil
	}
	if err := p.writeRows(); err != nil {
		return err
	}
	if full {
		p.pending = 0
		return p.w.Flush()
	}
	return nil
}

func (p *parquetWriter) writeRows() error {
	_, err := p.w.Write(p.rows)
	clear(p.rows) // drop the references to the entries
	p.rows = p.rows[:0]
	return err
}

// Close writes the last rows, row group and the footer; the file is
// unreadable without it.
func (p *parquetWriter) Close() error {
	if err := p.writeRows(); err != nil {
		return err
	}
	return p.w.Close()
}
