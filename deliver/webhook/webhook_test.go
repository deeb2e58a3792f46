package webhook

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/provbus/provbus/schemas"
)

// The Standard Webhooks specification's example (also in svix's test
// suites): an independent implementation's answer, not ours.
func TestSignSpecVector(t *testing.T) {
	key, err := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	if err := Verify(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`), "v1,bogus "+got); err != nil {
		t.Fatal(err)
	}
	if Verify(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232315}`), got) == nil {
		t.Fatal("a changed body verified")
	}
}

func TestParseSecret(t *testing.T) {
	for _, s := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_short", "whsec_!!!!"} {
		if _, err := ParseSecret(s); err == nil {
			t.Errorf("ParseSecret(%q) accepted", s)
		}
	}
}

func TestBody(t *testing.T) {
	acc, cust := int64(11), int64(1)
	parent, from := "p-1", schemas.InheritedFromCustomer
	ev := &schemas.Event{
		EventID: "e-1", Source: "portabilling", EventType: "Account/Status/Suspend", Origin: schemas.OriginInherited,
		ParentEventID: &parent, InheritedFrom: &from, IAccount: &acc, ICustomer: &cust,
		OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ReceivedAt: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC),
		Attributes: map[string]string{"i_account": "11"}, Payload: `{"event_type":"Customer/Status/Suspend"}`,
	}
	b, err := AppendEventBody(nil, "AricentHSS", "11", ev, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	ids := got["ids"].(map[string]any)
	if ids["i_account"] != 11.0 || ids["i_customer"] != 1.0 || len(ids) != 2 {
		t.Errorf("ids = %v", ids)
	}
	data := got["data"].(map[string]any)
	if data["event_type"] != "Customer/Status/Suspend" {
		t.Errorf("data = %v", data)
	}
	if got["occurred_at"] != "2026-01-02T03:04:05Z" || got["attempt"] != 3.0 || got["handler"] != "AricentHSS" || got["inherited_from"] != "CUSTOMER" {
		t.Errorf("body = %s", b)
	}
	if _, ok := got["instance"]; ok {
		t.Errorf("an event of the default installation has an instance: %s", b)
	}
}

// TestBodyInstance: an event of a named installation (#12) tells the
// connector which one, so a connector serving two billing instances can
// route it.
func TestBodyInstance(t *testing.T) {
	inst := "eu-west"
	ev := &schemas.Event{EventID: "eu-west:42", Source: "portabilling", EventType: "Account/New", Origin: schemas.OriginDirect,
		Instance: &inst, Payload: `{}`}
	b, err := AppendEventBody(nil, "AricentHSS", "11", ev, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["instance"] != "eu-west" {
		t.Errorf("instance = %v in %s", got["instance"], b)
	}
}
