package jerasoft

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
	body := `{"event":{"dt":"2026-11-22T10:00:00+00:00","events_id":"clients.create","object_id":12},"data":{"name":"ACME","balance":{"amount":-1.5}}}`
	evs, err := Parse([]byte(body), now)
	if err != nil {
		t.Fatal(err)
	}
	ev := evs[0]
	if ev.EventType != "clients.create" || *ev.ObjectID != "12" || ev.Source != Name || len(ev.EventID) != 64 {
		t.Errorf("%+v", ev)
	}
	if !ev.OccurredAt.Equal(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("occurred %v", ev.OccurredAt)
	}
	if ev.Attributes["data.name"] != "ACME" || ev.Attributes["data.balance.amount"] != "-1.5" || ev.Attributes["event.object_id"] != "12" {
		t.Errorf("attributes %v", ev.Attributes)
	}
	// The id is the hash of the canonical body: key order and white space
	// do not change it, any value does.
	same := "{\"data\": {\"balance\": {\"amount\": -1.5}, \"name\": \"ACME\"},\n \"event\": {\"object_id\": 12, \"events_id\": \"clients.create\", \"dt\": \"2026-11-22T10:00:00+00:00\"}}"
	other := strings.Replace(body, "ACME", "ACME2", 1)
	e2, _ := Parse([]byte(same), now.Add(time.Hour))
	e3, _ := Parse([]byte(other), now)
	if e2[0].EventID != ev.EventID || e3[0].EventID == ev.EventID {
		t.Errorf("ids: %s %s %s", ev.EventID, e2[0].EventID, e3[0].EventID)
	}
	empty, err := Parse([]byte(`{"event":{"events_id":"dids.block","object_id":"d-1"},"data":{}}`), now)
	if err != nil || !empty[0].OccurredAtEstimated || *empty[0].ObjectID != "d-1" {
		t.Errorf("empty data: %v %+v", err, empty)
	}
}

func TestParseErrors(t *testing.T) {
	ok := `{"event":{"events_id":"clients.create","object_id":1},"data":{}}`
	for _, tc := range []struct {
		name, body string
		want       []problem
	}{
		{"malformed", `{"event":`, []problem{{0, edge.MsgMalformed, ""}}},
		{"not object", `[true]`, []problem{{0, edge.MsgNotObject, ""}}},
		{"missing event", `{"data":{}}`, []problem{{0, edge.MsgMissing, "event"}}},
		{"event array", `{"event":[],"data":{}}`, []problem{{0, edge.MsgWrongType, "event"}}},
		{"missing events_id", `{"event":{"object_id":1}}`, []problem{{0, edge.MsgMissing, "event.events_id"}}},
		{"events_id number", `{"event":{"events_id":1}}`, []problem{{0, edge.MsgWrongType, "event.events_id"}}},
		{"object_id object", `{"event":{"events_id":"clients.create","object_id":{}}}`, []problem{{0, edge.MsgWrongType, "event.object_id"}}},
		{"bad dt", `{"event":{"events_id":"clients.create","dt":"soon"}}`, []problem{{0, edge.MsgBadValue, "event.dt"}}},
		{"every bad index", `[{"data":{}},` + ok + `,{"event":{"events_id":"x","dt":1}}]`,
			[]problem{{0, edge.MsgMissing, "event"}, {2, edge.MsgWrongType, "event.dt"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.body), now)
			var bad *edge.Error
			if !errors.As(err, &bad) {
				t.Fatalf("want *edge.Error, got %v", err)
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
	withQuery := New(config.TokenAuth{Token: "tok-123", Header: "X-Auth-Token", QueryParam: "token",
		Instances: []config.TokenInstance{{Name: "lab", Token: "tok-lab"}}})
	headerOnly := New(config.TokenAuth{Token: "tok-123", Header: "X-Auth-Token"})
	for _, tc := range []struct {
		name, header, query string
		s                   *Source
		ok                  bool
		instance            string
	}{
		{"header", "tok-123", "", withQuery, true, ""},
		{"bearer header", "Bearer tok-123", "", withQuery, true, ""},
		{"named instance", "tok-lab", "", withQuery, true, "lab"},
		{"query when enabled", "", "tok-123", withQuery, true, ""},
		{"query by default", "", "tok-123", headerOnly, false, ""},
		{"bad header", "nope", "", withQuery, false, ""},
		{"bad query", "", "nope", withQuery, false, ""},
		{"none", "", "", withQuery, false, ""},
	} {
		r := httptest.NewRequest("POST", "/?token="+tc.query, nil)
		if tc.header != "" {
			r.Header.Set("X-Auth-Token", tc.header)
		}
		instance, err := tc.s.Authenticate(r, nil)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, edge.ErrUnauthorized)) || instance != tc.instance {
			t.Errorf("%s: %q %v", tc.name, instance, err)
		}
	}
	if _, err := New(config.TokenAuth{Header: "X-Auth-Token"}).Authenticate(httptest.NewRequest("POST", "/", nil), nil); !errors.Is(err, edge.ErrNoCredentials) {
		t.Errorf("no token configured: %v", err)
	}
}

// problem is an expected edge.Problem (local, so the tables can be
// positional).
type problem struct {
	Index int
	Error string
	Field string
}
