package eventlog

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/schemas"
)

func sampleEntries() []Entry {
	at := time.Date(2024, 5, 1, 10, 0, 0, 123e6, time.FixedZone("CEST", 7200))
	a := accountEvent("a1", "Account/Status/Closed", 42, 7, at)
	a.Payload = "{\"note\":\"line\nbreak \u00e9 \\\"q\\\"\"}"
	b := accountEvent("a2", "Account/BalanceChanged", 43, 7, at)
	b.Origin, b.ParentEventID, b.InheritedFrom = schemas.OriginInherited, str("c1"), str("CUSTOMER")
	b.FanOutIndex, b.FanOutCount = i32(0), i32(2)
	b.Attributes = map[string]string{"balance": "12.5", "currency": "EUR"}
	rec := func(off int64, key string) *kgo.Record {
		return &kgo.Record{Topic: "portabilling.account", Partition: 1, Offset: off, Key: []byte(key), Timestamp: at}
	}
	return []Entry{{Record: rec(5, "42"), Event: a}, {Record: rec(6, "43"), Event: b, Cause: []string{"c1"}}}
}

func TestNDJSON(t *testing.T) {
	var out bytes.Buffer
	w, _ := NewWriter("ndjson", &out, WriterOptions{})
	for _, e := range sampleEntries() {
		e := e
		if err := w.Write(&e); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	wantPrefix := `{"topic":"portabilling.account","partition":1,"offset":5,"timestamp":"2024-05-01T08:00:00.123Z","key":"42","event_id":"a1","source":"portabilling","event_type":"Account/Status/Closed","occurred_at":"2024-05-01T08:00:00.123Z","received_at":"2024-05-01T08:00:00.123Z","occurred_at_estimated":false,"origin":"DIRECT","parent_event_id":null,"inherited_from":null,"fan_out_index":null,"fan_out_count":null,"instance":null,"i_env":null,"i_customer":7,"i_account":42,`
	if !strings.HasPrefix(lines[0], wantPrefix) {
		t.Errorf("line 0:\n%s\nwant prefix\n%s", lines[0], wantPrefix)
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, l)
		}
		if i == 0 && m["payload"] != sampleEntries()[0].Event.Payload {
			t.Errorf("payload round trip: %q", m["payload"])
		}
		if i == 1 {
			attrs := m["attributes"].(map[string]any)
			if attrs["currency"] != "EUR" || m["parent_event_id"] != "c1" || m["fan_out_count"] != 2.0 {
				t.Errorf("line 1: %v", m)
			}
		}
	}
}

func TestCSV(t *testing.T) {
	entries := sampleEntries()
	render := func(o WriterOptions, es []Entry) [][]string {
		var out bytes.Buffer
		w, err := NewWriter("csv", &out, o)
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
		rows, err := csv.NewReader(&out).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	o := WriterOptions{Topics: []string{"portabilling.account"}, TempDir: t.TempDir()}
	rows := render(o, entries)
	wantHeader := "topic,partition,offset,timestamp,key,event_id,source,event_type,occurred_at,received_at,occurred_at_estimated,origin,parent_event_id,inherited_from,fan_out_index,fan_out_count,instance," +
		"i_env,i_customer,i_account,i_product,i_did,did_number,i_invoice,i_payment_transaction,i_vendor,i_connection," +
		"attr.balance,attr.currency,attr.i_account,attr.status,payload"
	if got := strings.Join(rows[0], ","); got != wantHeader {
		t.Fatalf("header\n%s\nwant\n%s", got, wantHeader)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	if r := rows[1]; r[col["attr.status"]] != "active" || r[col["attr.balance"]] != "" || r[col["i_account"]] != "42" || r[col["payload"]] != entries[0].Event.Payload {
		t.Errorf("row 1: %q", r)
	}
	if r := rows[2]; r[col["attr.currency"]] != "EUR" || r[col["attr.status"]] != "" || r[col["parent_event_id"]] != "c1" {
		t.Errorf("row 2: %q", r)
	}
	// The discovered header does not depend on record order.
	rev := render(o, []Entry{entries[1], entries[0]})
	if strings.Join(rev[0], ",") != wantHeader {
		t.Errorf("header changed with order: %v", rev[0])
	}
	// Fixed attributes stream with exactly those columns.
	fixed := render(WriterOptions{Topics: []string{"portabilling.account"}, Attrs: []string{"currency"}}, entries)
	if h := fixed[0]; h[len(h)-2] != "attr.currency" || fixed[2][len(h)-2] != "EUR" {
		t.Errorf("fixed attrs: %v / %v", h, fixed[2])
	}
}

func TestTable(t *testing.T) {
	var out bytes.Buffer
	w, _ := NewWriter("table", &out, WriterOptions{Topics: []string{"portabilling.account"}, Cause: true})
	for _, e := range sampleEntries() {
		e := e
		w.Write(&e)
	}
	w.Close()
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
	// Every column starts at the same position on every line.
	for _, h := range []string{"TOPIC", "EVENT_TYPE", "ORIGIN", "EVENT_ID", "CAUSED BY"} {
		pos := strings.Index(lines[0], h)
		for _, l := range lines[1:] {
			if h == "CAUSED BY" && len(l) <= pos {
				continue // an empty last column is trimmed
			}
			if pos <= 0 || pos >= len(l) || l[pos-1] != ' ' || l[pos] == ' ' {
				t.Errorf("column %s not aligned at %d:\n%s\n%s", h, pos, lines[0], l)
			}
		}
	}
	if !strings.Contains(lines[1], "2024-05-01T08:00:00.123Z") || !strings.HasSuffix(lines[2], "c1") {
		t.Errorf("table:\n%s", out.String())
	}
}
