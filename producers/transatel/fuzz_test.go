package transatel

import (
	"testing"
	"time"

	"github.com/provbus/provbus/producers/edge/edgetest"
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
		edgetest.CheckParse(t, evs, err)
	})
}
