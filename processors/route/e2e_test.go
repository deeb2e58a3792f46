package route

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/embedded/embeddedtest"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/internal/stream"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

const testPartitions = 3

// cluster is one embedded broker and registry with every topic the router
// reads and writes, and the router running on the shared runner.
type cluster struct {
	cat   *topology.Catalog
	cl    *kgo.Client
	adm   *kadm.Client
	codec *schemas.Codec
}

func startRouter(t *testing.T, window time.Duration) *cluster {
	t.Helper()
	c, brokers := newCluster(t)
	r, err := stream.New(NewStream(c.cat, window), stream.WithKafka(kgo.SeedBrokers(brokers...)),
		stream.WithCodec(c.codec), stream.WithGroupTimeouts(6*time.Second, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runner: %v", err)
		}
	})
	return c
}

// newCluster starts the embedded cluster and creates and registers every
// topic of the router.
func newCluster(t *testing.T) (*cluster, []string) {
	t.Helper()
	ec := embeddedtest.Start(t, 0)
	c := &cluster{cat: catalog(t), cl: ec.Client, adm: ec.Admin, codec: ec.Codec}
	avro := append(Inputs(c.cat), Outputs(c.cat)...)
	ec.Create(t, testPartitions, append(append([]string{}, avro...), ChangelogTopic, schemas.DLQTopic)...)
	ec.Use(t, avro...)
	return c, ec.Brokers()
}

// produce writes records synchronously, in order.
func (c *cluster) produce(t *testing.T, rs ...*kgo.Record) {
	t.Helper()
	for _, r := range rs {
		if err := c.cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// event builds the input record of ev on its domain topic (or
// portabilling.account.inherited for inherited events), keyed as the edge
// keys it.
func (c *cluster) event(t *testing.T, ev *schemas.Event) *kgo.Record {
	t.Helper()
	topic := topology.TopicAccountInherited
	if ev.Origin == schemas.OriginDirect {
		d, ok := c.cat.DomainOf(ev.EventType)
		if !ok {
			t.Fatalf("%s: no domain", ev.EventType)
		}
		topic = d.Topic
	}
	key, err := New(c.cat).Key(ev)
	if err != nil {
		t.Fatal(err)
	}
	r, err := records.Event(c.codec, topic, key, ev)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitRouted waits until the router group has committed every input record.
func (c *cluster) waitRouted(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ends, err := c.adm.ListEndOffsets(ctx, Inputs(c.cat)...)
		if err != nil {
			t.Fatal(err)
		}
		committed, err := c.adm.FetchOffsets(ctx, GroupID)
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			t.Fatal(err)
		}
		var lag int64
		ends.Each(func(o kadm.ListedOffset) {
			at := int64(0)
			if cm, ok := committed.Lookup(o.Topic, o.Partition); ok {
				at = max(cm.At, 0)
			}
			lag += o.Offset - at
		})
		if lag == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("router lag %d after 30s", lag)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readAll returns every committed record of topics.
func (c *cluster) readAll(t *testing.T, topics ...string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ends, err := c.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[int32]kgo.Offset{}
	left := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			if want[o.Topic] == nil {
				want[o.Topic] = map[int32]kgo.Offset{}
			}
			want[o.Topic][o.Partition] = kgo.NewOffset().AtStart()
			left++
		}
	})
	if left == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.cl.OptValue(kgo.SeedBrokers).([]string)...),
		kgo.ConsumePartitions(want), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %v: %d partitions unfinished", topics, left)
		}
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			out = append(out, p.Records...)
			// A transaction's commit marker is the last offset, so the
			// partition is done when the high watermark is reached.
			if e, _ := ends.Lookup(p.Topic, p.Partition); p.HighWatermark >= e.Offset && len(p.Records) > 0 &&
				p.Records[len(p.Records)-1].Offset >= e.Offset-2 {
				left--
			}
		})
	}
	return out
}

// received maps handler topic → event id → records.
func (c *cluster) received(t *testing.T) map[string]map[string]int {
	t.Helper()
	got := map[string]map[string]int{}
	for _, r := range c.readAll(t, Outputs(c.cat)...) {
		var ev schemas.Event
		if _, err := c.codec.Decode(context.Background(), r.Value, &ev); err != nil {
			t.Fatalf("%s: %v", r.Topic, err)
		}
		if got[r.Topic] == nil {
			got[r.Topic] = map[string]int{}
		}
		got[r.Topic][ev.EventID]++
	}
	return got
}

// TestEndToEndSeed000 routes every seed 000 case, in both origins, through
// the embedded cluster and the runner, with a corrupted record and a
// record of an unknown schema among them, and checks every handler topic
// against the seed.
func TestEndToEndSeed000(t *testing.T) {
	c := startRouter(t, 7*24*time.Hour)
	cases := seedCases(t, c.cat)
	for i, tc := range cases {
		rec := c.event(t, testEvent("c"+strconv.Itoa(i), tc.event, tc.origin))
		if i == 10 {
			// Poison between two good records of the same partition.
			garbage := &kgo.Record{Topic: "portabilling.account", Key: []byte("42"), Value: []byte("not avro at all")}
			unknown := &kgo.Record{Topic: "portabilling.account", Key: []byte("42"), Value: []byte{0, 0, 0, 0x27, 0x0f, 2, 'x'}}
			c.produce(t, garbage, unknown)
		}
		c.produce(t, rec)
	}
	c.waitRouted(t)
	got := c.received(t)
	for i, tc := range cases {
		id := "c" + strconv.Itoa(i)
		for _, topic := range Outputs(c.cat) {
			if n, want := got[topic][id], tc.want[topic]; (n == 1) != want || n > 1 {
				t.Errorf("%s %q → %s: %d records, want %v", tc.origin, tc.event, topic, n, want)
			}
		}
	}
	dlq := c.readAll(t, schemas.DLQTopic)
	reasons := map[string]bool{}
	for _, r := range dlq {
		reason, _ := records.Header(r, records.HeaderDLQReason)
		src, _ := records.Header(r, records.HeaderDLQTopic)
		if _, ok := records.Header(r, records.HeaderDLQOffset); !ok || src != "portabilling.account" {
			t.Errorf("DLQ record without its origin: %v", r.Headers)
		}
		reasons[reason] = true
	}
	if len(dlq) != 2 || !reasons["not_wire_format"] || !reasons["unknown_schema"] {
		t.Errorf("DLQ: %d records, reasons %v", len(dlq), reasons)
	}
}

// TestEndToEndSameEventFiveTimes: the same ESPF event five times reaches
// each handler once; the twin with de-duplication off must see five, or
// the checker proves nothing.
func TestEndToEndSameEventFiveTimes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		window time.Duration
		want   int
	}{{"dedup", 7 * 24 * time.Hour, 1}, {"twin-off", 0, 5}} {
		t.Run(tc.name, func(t *testing.T) {
			c := startRouter(t, tc.window)
			for i := 0; i < 5; i++ {
				ev := testEvent("espf-1001", "Account/Status/Closed", schemas.OriginDirect)
				c.produce(t, c.event(t, ev))
			}
			c.waitRouted(t)
			got := c.received(t)
			want, _ := New(c.cat).Targets(testEvent("x", "Account/Status/Closed", schemas.OriginDirect))
			if len(want) == 0 {
				t.Fatal("no subscribers")
			}
			for _, h := range want {
				if n := got[h.Topic]["espf-1001"]; n != tc.want {
					t.Errorf("%s: %d records, want %d", h.Topic, n, tc.want)
				}
			}
			if len(got) != len(want) {
				t.Errorf("records in %d handler topics, want %d", len(got), len(want))
			}
		})
	}
}
