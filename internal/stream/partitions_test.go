package stream_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/internal/stream"
	"github.com/provbus/provbus/schemas"
)

// Issue 18 #8: partitions added to an output topic while the processor
// runs are used, so a key lands where Kafka's default partitioner (Java,
// librdkafka) puts it over the new count.
func TestOutputPartitionsAddedAreUsed(t *testing.T) {
	t.Parallel()
	emb, cl, codec := setup(t, map[string]int32{"portabilling.customer": 3, "portabilling.product": 3, schemas.DLQTopic: 1})
	ctx := context.Background()
	// A key whose partition differs between 3 and 8 partitions: the
	// check below can tell the old count from the new.
	key := ""
	for i := 0; key == ""; i++ {
		if k := strconv.Itoa(i); stream.PartitionOf([]byte(k), 3) != stream.PartitionOf([]byte(k), 8) {
			key = k
		}
	}
	sent := 0
	send := func() *kgo.Record {
		sent++
		id := "e" + strconv.Itoa(sent)
		r, err := records.Event(codec, "portabilling.customer", key, &schemas.Event{EventID: id, Source: "portabilling",
			EventType: "Customer/New", Origin: schemas.OriginDirect, Payload: "{}"})
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		got := consume(t, emb, sent, "portabilling.product")
		for _, rec := range got {
			if string(rec.Key) == key && len(got) == sent {
				last := got[0]
				for _, g := range got {
					if g.Timestamp.After(last.Timestamp) || (g.Timestamp.Equal(last.Timestamp) && g.Offset > last.Offset) {
						last = g
					}
				}
				return last
			}
		}
		t.Fatal("no output")
		return nil
	}
	r, err := stream.New(copier{}, stream.WithKafka(kgo.SeedBrokers(emb.Brokers()...)), stream.WithCodec(codec),
		stream.WithPartitionRefresh(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	if p := send().Partition; p != stream.PartitionOf([]byte(key), 3) {
		t.Fatalf("before: key %s on partition %d, want %d", key, p, stream.PartitionOf([]byte(key), 3))
	}
	if _, err := kadm.NewClient(cl).CreatePartitions(ctx, 5, "portabilling.product"); err != nil {
		t.Fatal(err)
	}
	want := stream.PartitionOf([]byte(key), 8)
	deadline := time.Now().Add(30 * time.Second)
	for {
		p := send().Partition
		if p == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after adding partitions: key %s still on partition %d, want %d (8 partitions)", key, p, want)
		}
	}
	t.Logf("key %s moved to partition %d after %d events", key, want, sent)
}
