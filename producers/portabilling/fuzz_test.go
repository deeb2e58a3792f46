package portabilling

import (
	"testing"
	"time"

	"github.com/provbus/provbus/producers/edge/edgetest"
)

// FuzzParse checks Parse never panics, fails only with *edge.Error, and
// that every event it returns is complete.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"event_type":"Customer/Status/Suspend","variables":{"i_event":"123","i_customer":42,"i_env":3,"event_time":"2026-11-22 10:00:00"}}`,
		`[{"event_type":"Account/New","variables":{"i_account":"7","i_customer":"1","i_product":2}},{"event_type":"DID/New","variables":{"number":15551234}}]`,
		`{"event_type":"Account/New","variables":{"i_account":1.5,"event_time":"x"}}`,
		`{"event_type":5,"variables":[]}`, `[]`, `null`, `{`, `[1,"a",{}]`,
	} {
		f.Add([]byte(s))
	}
	received := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := Parse(body, received)
		edgetest.CheckParse(t, evs, err)
	})
}
