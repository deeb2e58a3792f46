package eventlog

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"
	"github.com/parquet-go/parquet-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/schemas"
)

// mixedEntries are sampleEntries plus a Transatel and a JeraSoft event, so
// every kind of id column holds a value somewhere.
func mixedEntries() []Entry {
	es := sampleEntries()
	at := time.Date(2024, 5, 2, 8, 30, 0, 7e6, time.UTC)
	tr := &schemas.Event{EventID: "t1", Source: "transatel", EventType: "CONNECTIVITY-MANAGEMENT/SUBSCRIBER/SUSPENDED",
		Origin: schemas.OriginDirect, OccurredAt: at, ReceivedAt: at.Add(time.Second), OccurredAtEstimated: true,
		MSISDN: str("+33612345678"), SIMSerial: str("8933"), IMSI: str("20801"), TransactionID: str("tx-9"),
		Attributes: map[string]string{}, Payload: `{}`}
	js := &schemas.Event{EventID: "j1", Source: "jerasoft", EventType: "client.updated", Origin: schemas.OriginDirect,
		OccurredAt: at, ReceivedAt: at, ObjectID: str("77"), Attributes: map[string]string{"name": "ACME"}, Payload: `{"id":77}`}
	return append(es,
		Entry{Record: &kgo.Record{Topic: "transatel.subscriber", Partition: 0, Offset: 9, Key: []byte("+33612345678"), Timestamp: at}, Event: tr},
		Entry{Record: &kgo.Record{Topic: "jerasoft.client", Partition: 2, Offset: 1, Timestamp: at}, Event: js, Cause: []string{"x", "y"}},
	)
}

func writeAll(t *testing.T, format string, o WriterOptions, es []Entry) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(format, &out, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range es {
		if err := w.Write(&es[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestParquetRoundTrip reads every column back (DuckDB reads the same file
// in TestDuckDBAnalystQueries).
func TestParquetRoundTrip(t *testing.T) {
	es := mixedEntries()
	raw := writeAll(t, FormatParquet, WriterOptions{}, es)
	rows, err := parquet.Read[parquetRow](bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(es) {
		t.Fatalf("%d rows, want %d", len(rows), len(es))
	}
	for i, e := range es {
		r, ev, got := e.Record, e.Event, rows[i]
		var key *string
		if r.Key != nil {
			key = str(string(r.Key))
		}
		want := parquetRow{
			Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UTC(), Key: key,
			EventID: ev.EventID, Source: ev.Source, EventType: ev.EventType, OccurredAt: ev.OccurredAt.UTC(),
			ReceivedAt: ev.ReceivedAt.UTC(), OccurredAtEstimated: ev.OccurredAtEstimated, Origin: ev.Origin,
			ParentEventID: ev.ParentEventID, InheritedFrom: ev.InheritedFrom, FanOutIndex: ev.FanOutIndex, FanOutCount: ev.FanOutCount,
			IEnv: ev.IEnv, ICustomer: ev.ICustomer, IAccount: ev.IAccount, IProduct: ev.IProduct, IDID: ev.IDID,
			DIDNumber: ev.DIDNumber, IInvoice: ev.IInvoice, IPaymentTransaction: ev.IPaymentTransaction,
			IVendor: ev.IVendor, IConnection: ev.IConnection, MSISDN: ev.MSISDN, SIMSerial: ev.SIMSerial, IMSI: ev.IMSI,
			TransactionID: ev.TransactionID, ObjectID: ev.ObjectID, Attributes: ev.Attributes, Payload: ev.Payload, Cause: e.Cause,
		}
		// Empty and nil read back alike; compare them as empty.
		for _, r := range []*parquetRow{&want, &got} {
			if len(r.Attributes) == 0 {
				r.Attributes = nil
			}
			if len(r.Cause) == 0 {
				r.Cause = nil
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
}

// TestParquetColumnsCoverEveryID: the Parquet columns are the record
// coordinates, the envelope and every source's typed ids, so a new id in
// schemas fails here until it has a column.
func TestParquetColumnsCoverEveryID(t *testing.T) {
	cols := map[string]bool{}
	for _, f := range parquet.SchemaOf(parquetRow{}).Fields() {
		cols[f.Name()] = true
	}
	want := append(append([]string{}, RecordColumns...), EnvelopeFields...)
	want = append(want, "attributes", "payload", "cause")
	for _, src := range schemas.Sources {
		for _, id := range schemas.IDFields(src) {
			want = append(want, id.Name)
		}
	}
	for _, c := range want {
		if !cols[c] {
			t.Errorf("no Parquet column %q", c)
		}
	}
	if len(cols) != len(want) {
		t.Errorf("%d Parquet columns, want %d", len(cols), len(want))
	}
	// Every field of the Avro envelope has its column, whatever the lists
	// above say: a field added to schemas.Event cannot be dropped silently.
	ev := reflect.TypeOf(schemas.Event{})
	for i := range ev.NumField() {
		if name := ev.Field(i).Tag.Get("avro"); name != "" && !cols[name] {
			t.Errorf("schemas.Event field %s (avro %q) has no Parquet column", ev.Field(i).Name, name)
		}
	}
}

// countingWriter counts what reached it.
type countingWriter struct{ n int }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

// TestParquetStreamsRowGroups: past the row-group budget the rows leave the
// process before Close, so a window of any size is written in bounded
// memory. Its twin is a writer that buffers everything until Close: out.n
// stays 0 and this fails.
func TestParquetStreamsRowGroups(t *testing.T) {
	var out countingWriter
	w := newParquet(&out, WriterOptions{})
	w.rowGroupBytes = 1 << 20
	e := sampleEntries()[1]
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ { // ~3 MB of values that do not compress
		ev := *e.Event
		b := make([]byte, 10_000)
		for j := range b {
			b[j] = byte('a' + rnd.IntN(26))
		}
		ev.Payload = string(b)
		e.Event = &ev
		if err := w.Write(&e); err != nil {
			t.Fatal(err)
		}
	}
	if out.n < 1<<20 {
		t.Fatalf("%d bytes written before Close after 3 MB of rows: the row groups are not flushed as they fill", out.n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestAvroRoundTrip reads the container back with hamba's OCF decoder: its
// schema is the topic's value schema, its records the events.
func TestAvroRoundTrip(t *testing.T) {
	es := sampleEntries()
	const tp = "portabilling.account"
	raw := writeAll(t, FormatAvro, WriterOptions{Topics: []string{tp}}, es)
	dec, err := ocf.NewDecoder(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	wantSchema, err := schemas.ValueSchema(tp)
	if err != nil {
		t.Fatal(err)
	}
	ws := avro.MustParse(wantSchema)
	if dec.Schema().Fingerprint() != ws.Fingerprint() {
		t.Errorf("file schema %s\nwant the topic's %s", dec.Schema(), ws)
	}
	if c := string(dec.Metadata()["avro.codec"]); c != "zstandard" {
		t.Errorf("codec %q, want zstandard", c)
	}
	var got []schemas.Event
	for dec.HasNext() {
		var ev schemas.Event
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	if dec.Error() != nil && dec.Error() != io.EOF {
		t.Fatal(dec.Error())
	}
	if len(got) != len(es) {
		t.Fatalf("%d records, want %d", len(got), len(es))
	}
	for i, e := range es {
		want := *e.Event
		want.OccurredAt, want.ReceivedAt = want.OccurredAt.UTC(), want.ReceivedAt.UTC()
		if len(want.Attributes) == 0 {
			want.Attributes = map[string]string{}
		}
		g := got[i]
		g.OccurredAt, g.ReceivedAt = g.OccurredAt.UTC(), g.ReceivedAt.UTC()
		if !reflect.DeepEqual(g, want) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, g, want)
		}
	}
}

// TestAvroSchemaOverTopics: several topics share the envelope with the ids
// of every source they carry; the quarantine topic is refused in a mix.
func TestAvroSchemaOverTopics(t *testing.T) {
	s, err := AvroSchema([]string{"portabilling.account", "transatel.subscriber"})
	if err != nil {
		t.Fatal(err)
	}
	rs := avro.MustParse(s).(*avro.RecordSchema)
	fields := map[string]bool{}
	for _, f := range rs.Fields() {
		fields[f.Name()] = true
	}
	if rs.Name() != "ProvbusReplayEvent" || !fields["i_account"] || !fields["msisdn"] || fields["object_id"] {
		t.Errorf("schema %s: fields %v", rs.Name(), fields)
	}
	raw := writeAll(t, FormatAvro, WriterOptions{Topics: []string{"portabilling.account", "transatel.subscriber", "jerasoft.client"}}, mixedEntries())
	dec, err := ocf.NewDecoder(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for dec.HasNext() {
		var ev schemas.Event
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		if ev.EventID == "t1" && (ev.MSISDN == nil || *ev.MSISDN != "+33612345678") {
			t.Errorf("transatel event lost its msisdn: %+v", ev)
		}
		n++
	}
	if n != len(mixedEntries()) {
		t.Errorf("%d records, want %d", n, len(mixedEntries()))
	}
	if _, err := AvroSchema([]string{"portabilling.account", schemas.QuarantineTopic}); err == nil {
		t.Error("a mix with the quarantine topic is accepted")
	}
}

// keepWriter keeps shallow copies of the events written: they share the
// strings, pointers and maps the pipeline handed over.
type keepWriter struct{ kept []schemas.Event }

func (k *keepWriter) Write(e *Entry) error { k.kept = append(k.kept, *e.Event); return nil }
func (k *keepWriter) Close() error         { return nil }

// TestPipelineLeavesWrittenValues: the Writer contract that lets the
// Parquet writer batch rows. After the next record is decoded, the values
// of the previous one are unchanged; a decode into the same map or ids
// would fail here.
func TestPipelineLeavesWrittenValues(t *testing.T) {
	c := startCluster(t)
	tp := topic("portabilling.account")
	c.create(1, tp)
	at := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	a, b := benchEvent(1, at), benchEvent(2, at)
	k := &keepWriter{}
	p := &Pipeline{Codec: c.codec, Out: k}
	ctx := context.Background()
	for _, ev := range []*schemas.Event{a, b} {
		if err := p.Handle(ctx, c.rec(tp, "k", at, ev)); err != nil {
			t.Fatal(err)
		}
	}
	first := k.kept[0]
	if first.EventID != a.EventID || *first.IAccount != *a.IAccount || first.Attributes["id"] != a.Attributes["id"] || first.Payload != a.Payload {
		t.Errorf("the first event changed after the second was decoded: %s account %d id %s", first.EventID, *first.IAccount, first.Attributes["id"])
	}
}
