package transatel

import (
	"errors"
	"testing"
	"time"

	"github.com/provbus/provbus/producers/edge"
)

// FuzzParse checks Parse never panics, fails only with *edge.Error, and
// that every event it returns is complete.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"header":{"eventId":"e-1","eventType":"CONNECTIVITY-MANAGEMENT/SUBSCRIBER/ACTIVATED","eventDate":"2026-11-22T10:00:00Z"},"body":{"transactionId":"t","simSerial":"8933","msisdn":"336","status":"ACTIVE","source":"api"}}`,
		`[{"header":{"eventId":1,"eventType":"X"},"body":{"msisdn":336,"a":{"b":{"c":null}}}}]`,
		`{"header":{"eventId":"1","eventType":"X","eventDate":"bad"},"body":[]}`,
		`{"header":"x"}`, `[]`, `{`, `[{},{}]`,
	} {
		f.Add([]byte(s))
	}
	received := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := Parse(body, received)
		if err != nil {
			var bad *edge.Error
			if !errors.As(err, &bad) || len(bad.Problems) == 0 {
				t.Fatalf("error is not a non-empty *edge.Error: %v", err)
			}
			return
		}
		for _, ev := range evs {
			if ev.EventID == "" || ev.EventType == "" || ev.Payload == "" || ev.Attributes == nil {
				t.Fatalf("incomplete event %+v", ev)
			}
		}
	})
}
