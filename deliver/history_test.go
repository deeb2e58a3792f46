package deliver

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// TestHistoryRecordsEveryAttempt: provbus.deliveries holds one record per
// attempt, keyed by the event's key, whose value names the event, the
// attempt and its outcome (the loop reuses its record and builds key and
// value in one buffer: each record must still be its own).
func TestHistoryRecordsEveryAttempt(t *testing.T) {
	c := cluster(t, 3)
	rc := &receiver{seen: map[string][]int{}, fail: func(key string, _, attempt int) int {
		if key == "1" && attempt == 1 {
			return 503
		}
		return 202
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	const keys, per = 10, 5
	produceEvents(t, c, keys, per)
	run(t, c, fastHandler(srv.URL))
	want := keys*per + per // key 1's events take two attempts each
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...), kgo.ConsumeTopics(topology.TopicDeliveries),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[string]string{} // event id → outcomes by attempt
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for n := 0; n < want; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d of %d history records: %v", n, want, got)
		}
		for _, rec := range fs.Records() {
			var d schemas.Delivery
			if _, err := c.Codec.Decode(ctx, rec.Value, &d); err != nil {
				t.Fatal(err)
			}
			var acc, i int
			if _, err := fmt.Sscanf(d.EventID, "e-%d-%d", &acc, &i); err != nil || d.Key != fmt.Sprint(acc) || string(rec.Key) != d.Key {
				t.Fatalf("record key %q, delivery %+v", rec.Key, d)
			}
			if d.Handler != testHandler {
				t.Fatalf("delivery %+v", d)
			}
			got[d.EventID] += fmt.Sprintf("%d:%s ", d.Attempt, d.Outcome)
			n++
		}
	}
	for k := 1; k <= keys; k++ {
		for i := range per {
			id, outcomes := fmt.Sprintf("e-%d-%d", k, i), "1:"+schemas.DeliveryDelivered+" "
			if k == 1 {
				outcomes = "1:" + schemas.DeliveryRetry + " 2:" + schemas.DeliveryDelivered + " "
			}
			if got[id] != outcomes {
				t.Errorf("%s: %q, want %q", id, got[id], outcomes)
			}
		}
	}
}
