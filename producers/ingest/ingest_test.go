package ingest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/producers/edge"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// sent is one event posted by TestEveryEventType and what must come out.
type sent struct {
	typ   *topology.EventType
	key   string
	check func(t *testing.T, ev *schemas.Event)
}

// body renders event type et (sent under name) in its source's real wire
// format, with n making its ids unique; it returns the body, the event id
// provbus must assign and the expectations.
func body(t *testing.T, cat *topology.Catalog, et *topology.EventType, name string, n int) (string, string, sent) {
	t.Helper()
	d, _ := cat.DomainOf(et.Name)
	s := sent{typ: et}
	switch et.Source {
	case topology.SourcePortaBilling:
		b := fmt.Sprintf(`{"event_type":%q,"variables":{"i_event":"pb-%d","i_env":3,"i_customer":"%d","i_account":%d,"i_product":5,"number":"1555%04d","i_invoice":7,"i_payment_transaction":8,"i_vendor":9,"i_connection":10,"event_time":"2026-11-22 10:00:00","note":"x"}}`,
			name, n, 1000+n, 2000+n, n)
		s.key = map[string]string{"i_customer": fmt.Sprint(1000 + n), "i_account": fmt.Sprint(2000 + n), "i_product": "5",
			"did_number": fmt.Sprintf("1555%04d", n), "i_env": "3"}[d.Key]
		s.check = func(t *testing.T, ev *schemas.Event) {
			if *ev.ICustomer != int64(1000+n) || *ev.IAccount != int64(2000+n) || *ev.IProduct != 5 || *ev.IEnv != 3 ||
				*ev.DIDNumber != fmt.Sprintf("1555%04d", n) || *ev.IInvoice != 7 || *ev.IPaymentTransaction != 8 || *ev.IVendor != 9 || *ev.IConnection != 10 {
				t.Errorf("%s: ids %+v", et.Name, ev)
			}
			if ev.OccurredAt != time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) || ev.Attributes["note"] != "x" {
				t.Errorf("%s: occurred %v attributes %v", et.Name, ev.OccurredAt, ev.Attributes)
			}
		}
		return b, fmt.Sprintf("pb-%d", n), s
	case topology.SourceTransatel:
		b := fmt.Sprintf(`{"header":{"eventId":"tsl-%d","eventType":%q,"eventDate":"2026-11-22T10:00:00.000Z"},"body":{"transactionId":"tx-%d","simSerial":"8933%d","msisdn":"33600%04d","status":"ACTIVE","source":"api"}}`,
			n, name, n, n, n)
		s.key = fmt.Sprintf("33600%04d", n)
		s.check = func(t *testing.T, ev *schemas.Event) {
			if *ev.TransactionID != fmt.Sprintf("tx-%d", n) || *ev.SIMSerial != fmt.Sprintf("8933%d", n) || ev.Attributes["body.status"] != "ACTIVE" {
				t.Errorf("%s: %+v", et.Name, ev)
			}
		}
		return b, fmt.Sprintf("tsl-%d", n), s
	default:
		b := fmt.Sprintf(`{"event":{"dt":"2026-11-22T10:00:00+00:00","events_id":%q,"object_id":%d},"data":{"n":%d}}`, name, 3000+n, n)
		id, err := edge.HashID(json.RawMessage(b))
		if err != nil {
			t.Fatal(err)
		}
		s.key = fmt.Sprint(3000 + n)
		s.check = func(t *testing.T, ev *schemas.Event) {
			if ev.Attributes["data.n"] != fmt.Sprint(n) {
				t.Errorf("%s: %+v", et.Name, ev)
			}
		}
		return b, id, s
	}
}

// TestEveryEventType posts every event type of the three seeds in its
// source's real format (aliases under their alias) and checks each lands
// in its domain topic, keyed by its domain id, with the canonical type, its
// ids and its event id, decodable through the registry alone.
func TestEveryEventType(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	want := map[string]sent{}
	for n, et := range h.cat.EventTypes() {
		name := et.Name
		if len(et.Aliases) > 0 {
			name = et.Aliases[0]
		}
		b, id, s := body(t, h.cat, et, name, n)
		resp, rb := h.post(string(et.Source), b, false)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s: %d %s", et.Name, resp.StatusCode, rb)
		}
		switch et.Source {
		case topology.SourceTransatel:
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("transatel answered %d", resp.StatusCode)
			}
		default:
			var acc Accepted
			if err := json.Unmarshal(rb, &acc); err != nil || len(acc.EventIDs) != 1 || acc.EventIDs[0] != id {
				t.Errorf("%s: answer %s, want id %s", et.Name, rb, id)
			}
		}
		want[id] = s
	}
	if len(want) < 150 {
		t.Fatalf("only %d event types in the catalog", len(want))
	}
	var domainTopics []string
	for _, d := range h.cat.Domains() {
		domainTopics = append(domainTopics, d.Topic)
	}
	got := h.records(domainTopics...)
	if len(got) != len(want) {
		t.Fatalf("%d records for %d events", len(got), len(want))
	}
	for _, r := range got {
		var ev schemas.Event
		h.decode(r, &ev)
		s, ok := want[ev.EventID]
		if !ok {
			t.Errorf("unexpected event id %q", ev.EventID)
			continue
		}
		delete(want, ev.EventID)
		if r.Topic != s.typ.Topic || string(r.Key) != s.key || ev.EventType != s.typ.Name || ev.Source != string(s.typ.Source) || ev.Origin != schemas.OriginDirect {
			t.Errorf("%s: topic %s key %q type %q source %q origin %q; want %s %q", s.typ.Name, r.Topic, r.Key, ev.EventType, ev.Source, ev.Origin, s.typ.Topic, s.key)
		}
		if v, _ := records.Header(r, schemas.HeaderEventType); v != s.typ.Name {
			t.Errorf("%s: header event_type %q", s.typ.Name, v)
		}
		if len(s.typ.Aliases) > 0 && ev.Attributes[AttrEventTypeSent] != s.typ.Aliases[0] {
			t.Errorf("%s: alias not kept: %v", s.typ.Name, ev.Attributes)
		}
		if ev.Payload == "" || ev.OccurredAtEstimated {
			t.Errorf("%s: payload %q estimated %v", s.typ.Name, ev.Payload, ev.OccurredAtEstimated)
		}
		s.check(t, &ev)
	}
	for id := range want {
		t.Errorf("event %s not found", id)
	}
}

// TestQuarantine: a well-formed event of a type the catalog does not know
// (or of another source's type) is answered 2xx and kept whole, with the
// reason, in provbus.quarantine; nothing goes to a domain topic.
func TestQuarantine(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	cases := []struct{ source, body, typ, reason string }{
		{"portabilling", `{"event_type":"Account/Teleported","variables":{"i_event":"q1","i_account":1}}`, "Account/Teleported", ReasonUnknownType},
		{"transatel", `{"header":{"eventId":"q2","eventType":"CONNECTIVITY-MANAGEMENT/SUBSCRIBER/BEAMED"},"body":{"msisdn":"1"}}`, "CONNECTIVITY-MANAGEMENT/SUBSCRIBER/BEAMED", ReasonUnknownType},
		{"jerasoft", `{"event":{"events_id":"clients.teleport","object_id":1},"data":{}}`, "clients.teleport", ReasonUnknownType},
		{"jerasoft", `{"event":{"events_id":"Account/New","object_id":1},"data":{}}`, "Account/New", ReasonWrongSource},
	}
	for _, c := range cases {
		resp, b := h.post(c.source, c.body, false)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s: %d %s", c.typ, resp.StatusCode, b)
		}
	}
	// An unknown type without its domain key is still quarantined: the key
	// requirement comes from a domain it does not have.
	if resp, b := h.post("portabilling", `{"event_type":"Nope/Nope","variables":{}}`, false); resp.StatusCode != 200 {
		t.Fatalf("keyless unknown: %d %s", resp.StatusCode, b)
	}
	recs := h.records(schemas.QuarantineTopic)
	if len(recs) != len(cases)+1 {
		t.Fatalf("%d quarantined records", len(recs))
	}
	// Quarantine records are keyed by source, so order holds only within
	// a source: match them by body.
	byBody := map[string]schemas.Quarantined{}
	for _, r := range recs {
		var q schemas.Quarantined
		h.decode(r, &q)
		if v, _ := records.Header(r, "reason"); v != q.Reason {
			t.Errorf("reason header %q, value %q", v, q.Reason)
		}
		byBody[string(q.Body)] = q
	}
	for i, c := range cases {
		q, ok := byBody[c.body]
		if !ok || q.Source != c.source || *q.EventType != c.typ || !strings.HasPrefix(q.Reason, c.reason) || q.ContentType != "application/json" {
			t.Errorf("case %d: quarantined %+v (found %v)", i, q, ok)
		}
	}
	if n := h.total(); n != int64(len(recs)) {
		t.Errorf("%d records in all topics, want only the %d quarantined", n, len(recs))
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// /metrics is on a listener of its own, never on the webhooks'.
	for p, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 404, "/debug/pprof/": 404} {
		resp, err := h.http.Client().Get(h.http.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", p, resp.StatusCode, want)
		}
	}
}
