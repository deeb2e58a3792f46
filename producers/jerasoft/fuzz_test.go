package jerasoft

import (
	"testing"
	"time"

	"github.com/provbus/provbus/producers/edge/edgetest"
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
		edgetest.CheckParse(t, evs, err)
		if err != nil {
			return
		}
		// JeraSoft sends no delivery id: the hashed id must be the same on
		// a retry, or de-duplication cannot work.
		again, err := Parse(body, received)
		if err != nil || len(again) != len(evs) {
			t.Fatalf("second parse differs: %v", err)
		}
		for i, ev := range evs {
			if again[i].EventID != ev.EventID {
				t.Fatalf("id not deterministic")
			}
		}
	})
}
