package console

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// sinceDelivery records the since the timeline asks Attempts for.
type sinceDelivery struct {
	*fakeDelivery
	mu    sync.Mutex
	since []time.Time
}

func (d *sinceDelivery) Attempts(ctx context.Context, key string, p int32, since time.Time) ([]Attempt, error) {
	d.mu.Lock()
	d.since = append(d.since, since)
	d.mu.Unlock()
	return d.fakeDelivery.Attempts(ctx, key, p, since)
}

// TestTimelineAttemptsBounded: the default timeline link (no from=) reads
// provbus.deliveries from its handler records' time (less the clock skew
// allowed), not the whole partition: 35 days of every attempt.
func TestTimelineAttemptsBounded(t *testing.T) {
	d := &sinceDelivery{fakeDelivery: newFakeDelivery()}
	start := time.Now()
	f := newFixture(t, WithDelivery(d))
	f.mustGet("/ui/entities?account=11", false)
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.since) == 0 {
		t.Fatal("no Attempts call")
	}
	for _, s := range d.since {
		// The fixture's records are from about a minute before start.
		if s.Before(start.Add(-time.Minute-attemptSkew-time.Second)) || s.After(start) {
			t.Errorf("Attempts since %v; want from the handler record less %v (start %v)", s, attemptSkew, start)
		}
	}
}

// TestEventPageReadsProvbusTopicsOnly: another application's topic (a
// Kafka Connect config topic with a password) is a 404, not a page.
func TestEventPageReadsProvbusTopicsOnly(t *testing.T) {
	f := newFixture(t)
	f.ec.Create(t, 1, "connect-configs")
	if err := f.ec.Client.ProduceSync(context.Background(), &kgo.Record{Topic: "connect-configs", Key: []byte("connector-crm"),
		Value: []byte(`{"connection.password":"s3cr3t-hss-pass"}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, auth := range []bool{false, true} {
		if code, body := f.get("/ui/events/connect-configs/0/0", auth); code != 404 || strings.Contains(body, "s3cr3t") {
			t.Errorf("foreign topic (signed in %v): %d", auth, code)
		}
	}
	if code, _ := f.get("/ui/events/"+f.inh.Topic+"/0/0", false); code == 404 {
		t.Errorf("a provbus topic's record page is a 404")
	}
}

// TestOutcomeMessageBounded: an action's outcome travels in the redirect's
// URL, so it is clipped to fit a proxy's request line.
func TestOutcomeMessageBounded(t *testing.T) {
	s := offline(t, testCreds, nil)
	u := s.done("/ui/dlq", nil, strings.Repeat("partition 1 offset 123456: still does not decode; ", 400))
	if len(u) > 4<<10 {
		t.Fatalf("redirect URL of %d bytes", len(u))
	}
	q, _ := url.ParseQuery(u[strings.Index(u, "?")+1:])
	if !strings.HasSuffix(q.Get("done"), "(clipped)") {
		t.Errorf("clipped message does not say so: %q", q.Get("done"))
	}
}
