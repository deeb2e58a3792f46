package stream_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/internal/stream"
	"github.com/provbus/provbus/schemas"
)

// Two processes configured with the same process.instance_id: the second
// takes the static member's slot (and its transactional id), and the first
// must stop with ErrDuplicateInstance rather than rejoin and fence the
// second in turn, forever.
func TestDuplicateInstanceStopsTheOlderProcess(t *testing.T) {
	t.Parallel()
	emb, cl, codec := setup(t, map[string]int32{"portabilling.customer": 3, "portabilling.product": 3, schemas.DLQTopic: 1})
	ctx := context.Background()
	send := func(id string) {
		r, err := records.Event(codec, "portabilling.customer", id, &schemas.Event{EventID: id, Source: "portabilling",
			EventType: "Customer/New", Origin: schemas.OriginDirect, Payload: "{}"})
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	start := func() (stop func(), done chan error) {
		r, err := stream.New(copier{}, stream.WithKafka(kgo.SeedBrokers(emb.Brokers()...)), stream.WithCodec(codec),
			stream.WithInstanceID("same"), stream.WithGroupTimeouts(6*time.Second, 10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done = make(chan error, 1)
		go func() { done <- r.Run(rctx) }()
		return cancel, done
	}
	stopA, doneA := start()
	defer stopA()
	send("1")
	consume(t, emb, 1, "portabilling.product")
	stopB, doneB := start()
	defer stopB()
	send("2")
	select {
	case err := <-doneA:
		if !errors.Is(err, stream.ErrDuplicateInstance) {
			t.Fatalf("first process: Run = %v, want ErrDuplicateInstance", err)
		}
		t.Log(err)
	case err := <-doneB:
		t.Fatalf("the newer process stopped instead: %v", err)
	case <-time.After(45 * time.Second):
		t.Fatal("the first process kept running beside a second one with its instance id")
	}
	// The newer process goes on working.
	send("3")
	consume(t, emb, 3, "portabilling.product")
	select {
	case err := <-doneB:
		t.Fatalf("the newer process stopped: %v", err)
	default:
	}
}
