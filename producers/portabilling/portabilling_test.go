package portabilling

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/producers/edge"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func TestParseValid(t *testing.T) {
	body := `{"event_type":"Customer/Status/Suspend","variables":{"i_event":"123","i_customer":42,"i_env":"3","i_account":"","number":"15551234","event_time":"2026-11-22 10:00:00","extra":{"a":1}}}`
	evs, err := Parse([]byte(body), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("got %d events", len(evs))
	}
	ev := evs[0]
	if ev.EventID != "123" || ev.EventType != "Customer/Status/Suspend" || ev.Source != Name || ev.Origin != "DIRECT" {
		t.Errorf("envelope: %+v", ev)
	}
	if *ev.ICustomer != 42 || *ev.IEnv != 3 || ev.IAccount != nil || *ev.DIDNumber != "15551234" {
		t.Errorf("ids: customer %v env %v account %v number %v", ev.ICustomer, ev.IEnv, ev.IAccount, ev.DIDNumber)
	}
	if !ev.OccurredAt.Equal(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)) || ev.OccurredAtEstimated {
		t.Errorf("occurred %v estimated %v", ev.OccurredAt, ev.OccurredAtEstimated)
	}
	if ev.Attributes["i_customer"] != "42" || ev.Attributes["number"] != "15551234" || ev.Attributes["extra"] != `{"a":1}` {
		t.Errorf("attributes %v", ev.Attributes)
	}
	if ev.Payload != body {
		t.Errorf("payload %q", ev.Payload)
	}
}

func TestParseDefaults(t *testing.T) {
	a := `{"event_type":"Account/New","variables":{"i_account":7}}`
	b := "{ \"variables\" : { \"i_account\" : 7 },\n \"event_type\" : \"Account/New\" }"
	ea, err := Parse([]byte(a), now)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := Parse([]byte(b), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if ea[0].EventID != eb[0].EventID || len(ea[0].EventID) != 64 {
		t.Errorf("hash ids differ or malformed: %q %q", ea[0].EventID, eb[0].EventID)
	}
	if ea[0].Attributes[AttrEventIDHash] != "sha256" {
		t.Errorf("hash flag missing: %v", ea[0].Attributes)
	}
	if !ea[0].OccurredAtEstimated || !ea[0].OccurredAt.Equal(now) {
		t.Errorf("occurred %v estimated %v", ea[0].OccurredAt, ea[0].OccurredAtEstimated)
	}
}

func TestParseArray(t *testing.T) {
	evs, err := Parse([]byte(`[{"event_type":"Account/New","variables":{"i_event":1,"i_account":7}},{"event_type":"Account/Blocked","variables":{"i_event":2,"i_account":8}}]`), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].EventID != "1" || evs[1].EventID != "2" || *evs[1].IAccount != 8 {
		t.Fatalf("%+v", evs)
	}
}

func TestParseErrors(t *testing.T) {
	ok := `{"event_type":"Account/New","variables":{"i_account":1}}`
	for _, tc := range []struct {
		name, body string
		want       []problem // Error compared by prefix
	}{
		{"malformed", `{"event_type":`, []problem{{0, edge.MsgMalformed, ""}}},
		{"empty body", ``, []problem{{0, edge.MsgEmpty, ""}}},
		{"empty array", `[]`, []problem{{0, edge.MsgEmpty, ""}}},
		{"scalar body", `"x"`, []problem{{0, "body must be", ""}}},
		{"element not object", `[1,` + ok + `]`, []problem{{0, edge.MsgNotObject, ""}}},
		{"missing event_type", `{"variables":{}}`, []problem{{0, edge.MsgMissing, "event_type"}}},
		{"empty event_type", `{"event_type":"","variables":{}}`, []problem{{0, edge.MsgMissing, "event_type"}}},
		{"event_type number", `{"event_type":5,"variables":{}}`, []problem{{0, edge.MsgWrongType, "event_type"}}},
		{"missing variables", `{"event_type":"Account/New"}`, []problem{{0, edge.MsgMissing, "variables"}}},
		{"variables array", `{"event_type":"Account/New","variables":[]}`, []problem{{0, edge.MsgWrongType, "variables"}}},
		{"id not numeric", `{"event_type":"Account/New","variables":{"i_account":"abc"}}`, []problem{{0, edge.MsgWrongType, "variables.i_account"}}},
		{"id fraction", `{"event_type":"Account/New","variables":{"i_account":1.5}}`, []problem{{0, edge.MsgWrongType, "variables.i_account"}}},
		{"id object", `{"event_type":"Account/New","variables":{"i_customer":{}}}`, []problem{{0, edge.MsgWrongType, "variables.i_customer"}}},
		{"bad time", `{"event_type":"Account/New","variables":{"event_time":"yesterday"}}`, []problem{{0, edge.MsgBadValue, "variables.event_time"}}},
		{"time number", `{"event_type":"Account/New","variables":{"event_time":5}}`, []problem{{0, edge.MsgWrongType, "variables.event_time"}}},
		{"i_event object", `{"event_type":"Account/New","variables":{"i_event":{}}}`, []problem{{0, edge.MsgWrongType, "variables.i_event"}}},
		{"number bool", `{"event_type":"DID/New","variables":{"number":true}}`, []problem{{0, edge.MsgWrongType, "variables.number"}}},
		{"every bad index", `[` + ok + `,{"variables":{}},` + ok + `,{"event_type":"X","variables":{"i_account":"z"}}]`,
			[]problem{{1, edge.MsgMissing, "event_type"}, {3, edge.MsgWrongType, "variables.i_account"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := Parse([]byte(tc.body), now)
			var bad *edge.Error
			if !errors.As(err, &bad) {
				t.Fatalf("want *edge.Error, got %v (%d events)", err, len(evs))
			}
			if len(bad.Problems) != len(tc.want) {
				t.Fatalf("problems %+v, want %+v", bad.Problems, tc.want)
			}
			for i, p := range bad.Problems {
				w := tc.want[i]
				if p.Index != w.Index || p.Field != w.Field || !strings.HasPrefix(p.Error, w.Error) {
					t.Errorf("problem %d = %+v, want %+v", i, p, w)
				}
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	s := New(config.BasicAuth{Username: "espf", Password: "secret", Instances: []config.BasicInstance{
		{Name: "eu", Username: "espf-eu", Password: "secret-eu"},
	}})
	for _, tc := range []struct {
		name       string
		user, pass string
		set, ok    bool
		instance   string
	}{
		{"good", "espf", "secret", true, true, ""},
		{"named instance", "espf-eu", "secret-eu", true, true, "eu"},
		{"another instance's password", "espf-eu", "secret", true, false, ""},
		{"bad password", "espf", "nope", true, false, ""},
		{"bad user", "x", "secret", true, false, ""},
		{"none", "", "", false, false, ""},
	} {
		r := httptest.NewRequest("POST", "/", nil)
		if tc.set {
			r.SetBasicAuth(tc.user, tc.pass)
		}
		instance, err := s.Authenticate(r, nil)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, edge.ErrUnauthorized)) || instance != tc.instance {
			t.Errorf("%s: %q %v", tc.name, instance, err)
		}
	}
	// No credentials: nothing is accepted (only ingest's insecure flag
	// opens a source).
	r := httptest.NewRequest("POST", "/", nil)
	r.SetBasicAuth("", "")
	if _, err := New(config.BasicAuth{}).Authenticate(r, nil); !errors.Is(err, edge.ErrNoCredentials) {
		t.Errorf("no auth configured: %v", err)
	}
}

// problem is an expected edge.Problem (local, so the tables can be
// positional).
type problem struct {
	Index int
	Error string
	Field string
}
