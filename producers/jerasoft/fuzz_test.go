package jerasoft

import (
	"errors"
	"testing"
	"time"

	"github.com/provbus/provbus/producers/edge"
)

// FuzzParse checks Parse never panics, fails only with *edge.Error, that
// every event it returns is complete, and that ids are deterministic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"event":{"dt":"2026-11-22T10:00:00+00:00","events_id":"clients.create","object_id":12},"data":{"name":"ACME"}}`,
		`[{"event":{"events_id":"dids.block","object_id":"d-1"},"data":{}},{"event":{"events_id":"x"},"data":[1,{"a":"<&>"}]}]`,
		`{"event":{"events_id":1,"dt":"x"}}`, `{"event":[]}`, `[]`, `{`, `1e400`,
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
		again, err := Parse(body, received)
		if err != nil || len(again) != len(evs) {
			t.Fatalf("second parse differs: %v", err)
		}
		for i, ev := range evs {
			if ev.EventID == "" || ev.EventType == "" || ev.Payload == "" || ev.Attributes == nil {
				t.Fatalf("incomplete event %+v", ev)
			}
			if again[i].EventID != ev.EventID {
				t.Fatalf("id not deterministic")
			}
		}
	})
}
