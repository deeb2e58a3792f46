package transatel

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
	body := `{"header":{"eventId":"e-1","eventType":"CONNECTIVITY-MANAGEMENT/SUBSCRIBER/ACTIVATED","eventDate":"2026-11-22T10:00:00.123+0100"},"body":{"transactionId":"t-9","simSerial":"8933","msisdn":33612345678,"imsi":"208","status":"ACTIVE","source":"api","contact":{"email":"a@b"},"newField":[1,2]}}`
	evs, err := Parse([]byte(body), now)
	if err != nil {
		t.Fatal(err)
	}
	ev := evs[0]
	if ev.EventID != "e-1" || ev.EventType != "CONNECTIVITY-MANAGEMENT/SUBSCRIBER/ACTIVATED" || ev.Source != Name {
		t.Errorf("envelope %+v", ev)
	}
	if *ev.MSISDN != "33612345678" || *ev.SIMSerial != "8933" || *ev.IMSI != "208" || *ev.TransactionID != "t-9" {
		t.Errorf("ids %v %v %v %v", *ev.MSISDN, *ev.SIMSerial, *ev.IMSI, *ev.TransactionID)
	}
	if !ev.OccurredAt.Equal(time.Date(2026, 11, 22, 9, 0, 0, 123e6, time.UTC)) || ev.OccurredAtEstimated {
		t.Errorf("occurred %v", ev.OccurredAt)
	}
	for k, v := range map[string]string{"body.status": "ACTIVE", "body.contact.email": "a@b", "body.newField": "[1,2]", "header.eventId": "e-1", "body.msisdn": "33612345678"} {
		if ev.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q (all: %v)", k, ev.Attributes[k], v, ev.Attributes)
		}
	}
}

func TestParseDates(t *testing.T) {
	for _, d := range []string{"2026-11-22T10:00:00Z", "2026-11-22T10:00:00.5+00:00", "2026-11-22T10:00:00", "2026-11-22 10:00:00", "2026-11-22T11:00:00+0100"} {
		evs, err := Parse([]byte(`{"header":{"eventId":"1","eventType":"X","eventDate":"`+d+`"},"body":{}}`), now)
		if err != nil {
			t.Errorf("%s: %v", d, err)
			continue
		}
		if evs[0].OccurredAt.Truncate(time.Second) != time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) {
			t.Errorf("%s: %v", d, evs[0].OccurredAt)
		}
	}
	evs, err := Parse([]byte(`{"header":{"eventId":"1","eventType":"X"},"body":{}}`), now)
	if err != nil || !evs[0].OccurredAtEstimated || !evs[0].OccurredAt.Equal(now) {
		t.Errorf("no date: %v %+v", err, evs)
	}
}

func TestParseErrors(t *testing.T) {
	ok := `{"header":{"eventId":"1","eventType":"X"},"body":{"msisdn":"1"}}`
	for _, tc := range []struct {
		name, body string
		want       []problem
	}{
		{"malformed", `{"header":`, []problem{{0, edge.MsgMalformed, ""}}},
		{"not object", `[5]`, []problem{{0, edge.MsgNotObject, ""}}},
		{"missing header", `{"body":{}}`, []problem{{0, edge.MsgMissing, "header"}}},
		{"header string", `{"header":"x","body":{}}`, []problem{{0, edge.MsgWrongType, "header"}}},
		{"missing body", `{"header":{"eventId":"1","eventType":"X"}}`, []problem{{0, edge.MsgMissing, "body"}}},
		{"body array", `{"header":{"eventId":"1","eventType":"X"},"body":[]}`, []problem{{0, edge.MsgWrongType, "body"}}},
		{"missing eventId", `{"header":{"eventType":"X"},"body":{}}`, []problem{{0, edge.MsgMissing, "header.eventId"}}},
		{"missing eventType", `{"header":{"eventId":"1"},"body":{}}`, []problem{{0, edge.MsgMissing, "header.eventType"}}},
		{"eventType number", `{"header":{"eventId":"1","eventType":3},"body":{}}`, []problem{{0, edge.MsgWrongType, "header.eventType"}}},
		{"bad date", `{"header":{"eventId":"1","eventType":"X","eventDate":"22/11/2026"},"body":{}}`, []problem{{0, edge.MsgBadValue, "header.eventDate"}}},
		{"msisdn object", `{"header":{"eventId":"1","eventType":"X"},"body":{"msisdn":{}}}`, []problem{{0, edge.MsgWrongType, "body.msisdn"}}},
		{"every bad index", `[` + ok + `,{"body":{}},{"header":{"eventId":"1","eventType":"X"},"body":{"simSerial":true}}]`,
			[]problem{{1, edge.MsgMissing, "header"}, {2, edge.MsgWrongType, "body.simSerial"}}},
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
	old, cur := "old-secret-0123456789", "new-secret-0123456789"
	s := New(config.HMACAuth{Secrets: []string{cur, old}})
	body := []byte(`{"header":{}}`)
	for _, tc := range []struct {
		name, sig string
		ok        bool
	}{
		{"current secret", Sign([]byte(cur), body), true},
		{"rotated secret", Sign([]byte(old), body), true},
		{"other secret", Sign([]byte("someone-elses-secret"), body), false},
		{"other body", Sign([]byte(cur), []byte(`{}`)), false},
		{"no prefix", strings.TrimPrefix(Sign([]byte(cur), body), "sha256="), false},
		{"not hex", "sha256=zz", false},
		{"missing", "", false},
	} {
		r := httptest.NewRequest("POST", "/", nil)
		if tc.sig != "" {
			r.Header.Set(SignatureHeader, tc.sig)
		}
		instance, err := s.Authenticate(r, body)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, edge.ErrUnauthorized)) || instance != "" {
			t.Errorf("%s: %q %v", tc.name, instance, err)
		}
	}
	named := New(config.HMACAuth{Secrets: []string{cur}, Instances: []config.HMACInstance{{Name: "uk", Secrets: []string{"uk-secret-0123456789"}}}})
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set(SignatureHeader, Sign([]byte("uk-secret-0123456789"), body))
	if instance, err := named.Authenticate(r, body); err != nil || instance != "uk" {
		t.Errorf("named instance: %q %v", instance, err)
	}
	r.Header.Set(SignatureHeader, Sign([]byte(cur), body))
	if _, err := New(config.HMACAuth{}).Authenticate(r, body); !errors.Is(err, edge.ErrNoCredentials) {
		t.Errorf("no secrets: %v", err)
	}
}

// problem is an expected edge.Problem (local, so the tables can be
// positional).
type problem struct {
	Index int
	Error string
	Field string
}
