package edge_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/provbus/provbus/producers/edge"
	"github.com/provbus/provbus/producers/jerasoft"
)

// A body that the limits refuse must still be refused when it is preceded
// by a byte that bytes.TrimSpace strips but JSON white space is not
// (\v, \f, U+0085, U+00A0 …): Check does not skip it, so Elements must not
// either (found in review: a leading \f skipped every request limit).
func TestLimitsCannotBeSkippedByNonJSONSpace(t *testing.T) {
	var sb strings.Builder
	sb.WriteString(`{"event":{"events_id":"clients.create","object_id":1},"data":{"`)
	sb.WriteString(strings.Repeat("k", 64<<10)) // a 64 KiB key ...
	sb.WriteString(`":{`)
	for i := 0; i < 2000; i++ { // ... above 2000 small leaves
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"%d":1`, i)
	}
	sb.WriteString(`}}}`)
	body := sb.String()
	l := edge.DefaultLimits
	if err := l.Check([]byte(body)); err == nil {
		t.Fatal("plain body passes Check")
	}
	for _, pre := range []string{"\v", "\f", "\u00a0", "\u0085"} {
		b := []byte(pre + body)
		if err := l.Check(b); err != nil {
			continue
		}
		evs, err := jerasoft.Parse(b, time.Now())
		if err != nil {
			t.Logf("%q: Check passes, parse refuses: %v", pre, err)
			continue
		}
		n := 0
		for k, v := range evs[0].Attributes {
			n += len(k) + len(v)
		}
		t.Errorf("prefix %q: Check passed a %d-byte body over max_flat_bytes; Parse built %d attributes, %d MB of names",
			pre, len(b), len(evs[0].Attributes), n>>20)
	}
}

func TestMaxEventsCannotBeSkippedByNonJSONSpace(t *testing.T) {
	body := "\f[" + strings.Repeat(`{"event_type":"X","variables":{"i_event":"1"}},`, 5000) + `{"event_type":"X","variables":{"i_event":"1"}}]`
	if err := edge.DefaultLimits.Check([]byte(body)); err == nil {
		if raws, err := edge.Elements([]byte(body)); err == nil {
			t.Errorf("Check passed and Elements split %d events (max 1000)", len(raws))
		}
	}
}
