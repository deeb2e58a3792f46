package deliver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/provbus/provbus/deliver/retry"
	"github.com/provbus/provbus/internal/embedded/embeddedtest"
	"github.com/provbus/provbus/internal/metrics"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

const testHandler = "IPTV"

// cluster starts an embedded cluster with the delivery topics.
func cluster(t *testing.T, partitions int32) *embeddedtest.Cluster {
	c := embeddedtest.Start(t, int(partitions))
	c.Create(t, partitions, topology.HandlerTopic(testHandler), topology.TopicDeliveries, topology.TopicDeliverState,
		topology.TopicDeliverFailed, topology.TopicDeliverControl, topology.TopicDLQ)
	c.Use(t, topology.HandlerTopic(testHandler))
	return c
}

// produceEvents writes n events per key, seq in attribute "seq".
func produceEvents(t *testing.T, c *embeddedtest.Cluster, keys, n int) {
	var recs []*kgo.Record
	for i := range n {
		for k := range keys {
			acc := int64(k + 1)
			ev := &schemas.Event{EventID: fmt.Sprintf("e-%d-%d", acc, i), Source: "portabilling", EventType: "Account/Status/Changed",
				Origin: schemas.OriginDirect, IAccount: &acc, OccurredAt: time.Now(), ReceivedAt: time.Now(),
				Attributes: map[string]string{"seq": fmt.Sprint(i)}, Payload: `{}`}
			rec, err := records.Event(c.Codec, topology.HandlerTopic(testHandler), fmt.Sprint(acc), ev)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, rec)
		}
	}
	if err := c.Client.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// produceKeyed writes n events of one key, ids hot-<i>, seq i.
func produceKeyed(t *testing.T, c *embeddedtest.Cluster, key string, n int) {
	var recs []*kgo.Record
	acc, _ := strconv.ParseInt(key, 10, 64)
	for i := range n {
		ev := &schemas.Event{EventID: fmt.Sprintf("hot-%s-%d", key, i), Source: "portabilling", EventType: "Account/Status/Changed",
			Origin: schemas.OriginDirect, IAccount: &acc, OccurredAt: time.Now(), ReceivedAt: time.Now(),
			Attributes: map[string]string{"seq": fmt.Sprint(i)}, Payload: `{}`}
		rec, err := records.Event(c.Codec, topology.HandlerTopic(testHandler), key, ev)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	if err := c.Client.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// receiver is a test connector recording what it was sent.
type receiver struct {
	mu    sync.Mutex
	seen  map[string][]int // key → seq of each delivered (2xx) request, in arrival order
	fail  func(key string, seq, attempt int) int
	total int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Key        string            `json:"key"`
		Attempt    int               `json:"attempt"`
		Attributes map[string]string `json:"attributes"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &b); err != nil {
		w.WriteHeader(400)
		return
	}
	var seq int
	fmt.Sscan(b.Attributes["seq"], &seq)
	status := 202
	if rc.fail != nil {
		status = rc.fail(b.Key, seq, b.Attempt)
	}
	rc.mu.Lock()
	rc.total++
	if status < 300 {
		rc.seen[b.Key] = append(rc.seen[b.Key], seq)
	}
	rc.mu.Unlock()
	w.WriteHeader(status)
}

func (rc *receiver) delivered() (keys, events int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, s := range rc.seen {
		keys++
		events += len(s)
	}
	return
}

// run runs deliver for h until stop or the test's end.
func run(t *testing.T, c *embeddedtest.Cluster, h Handler) (stop func()) {
	return runMetered(t, c, h, nil)
}

// runMetered is run with metrics m (nil: none).
func runMetered(t *testing.T, c *embeddedtest.Cluster, h Handler, m *metrics.Pipeline) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Kafka: []kgo.Opt{kgo.SeedBrokers(c.Brokers()...)}, Codec: c.Codec, Metrics: m, Log: zaptest.NewLogger(t)}, []Handler{h})
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func fastHandler(url string) Handler {
	s := retry.Default()
	s.Initial, s.MaxInterval, s.Attempts = 5*time.Millisecond, 20*time.Millisecond, 5
	s.Long = []time.Duration{50 * time.Millisecond}
	return Handler{Name: testHandler, Target: targetCfg(url), Schedule: s, MaxInFlight: 8}
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDeliversInOrderPerKeyDespiteRetries: key 1 fails its first three
// attempts of every event; all keys still get every event, in order.
func TestDeliversInOrderPerKeyDespiteRetries(t *testing.T) {
	c := cluster(t, 3)
	rc := &receiver{seen: map[string][]int{}, fail: func(key string, seq, attempt int) int {
		if key == "1" && attempt <= 3 {
			return 503
		}
		return 202
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	const keys, per = 20, 10
	produceEvents(t, c, keys, per)
	run(t, c, fastHandler(srv.URL))
	waitFor(t, "every event delivered", 15*time.Second, func() bool { _, n := rc.delivered(); return n >= keys*per })
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for k, seqs := range rc.seen {
		for i, s := range seqs {
			if s != i {
				t.Fatalf("key %s got %v: out of order", k, seqs)
			}
		}
	}
}
