package route

import (
	"context"
	"testing"
	"time"

	"github.com/provbus/provbus/schemas"
)

// TestBackfill: history reaches the one handler back-filled, once per event
// id, skipping what its topic already holds; a second run adds nothing.
func TestBackfill(t *testing.T) {
	c, _ := newCluster(t)
	from := time.Now().Add(-time.Minute)
	iptv, _ := c.cat.Handler("IPTV")
	closed := func(id string) *schemas.Event { return testEvent(id, "Account/Status/Closed", schemas.OriginDirect) }
	c.produce(t, c.event(t, closed("b1")), c.event(t, closed("b2")), c.event(t, closed("b1")))
	// b2 was already delivered to IPTV (by the live router, say).
	pre := c.event(t, closed("b2"))
	pre.Topic = iptv.Topic
	if v, err := c.codec.Encode(nil, iptv.Topic, closed("b2")); err == nil {
		pre.Value = v
	} else {
		t.Fatal(err)
	}
	c.produce(t, pre)

	for run, want := range []BackfillStats{{Read: 3, Routed: 1, Duplicates: 2}, {Read: 3, Routed: 0, Duplicates: 3}} {
		st, err := Backfill(context.Background(), c.cl, c.codec, c.cat, "", iptv, from)
		if err != nil {
			t.Fatal(err)
		}
		if st != want {
			t.Errorf("run %d: %+v, want %+v", run+1, st, want)
		}
	}
	got := c.received(t)
	if len(got) != 1 || got[iptv.Topic]["b1"] != 1 || got[iptv.Topic]["b2"] != 1 {
		t.Errorf("handler topics after backfill: %v", got)
	}
}
