package stream_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/embedded"
	"github.com/provbus/provbus/internal/embedded/embeddedtest"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/internal/stream"
	"github.com/provbus/provbus/schemas"
)

// copier copies portabilling.customer events to portabilling.product and
// sends events of type "Bad" to the DLQ as poison.
type copier struct{}

func (copier) Spec() stream.Spec {
	return stream.Spec{Group: "test-copier", Inputs: []stream.Input{{Topic: "portabilling.customer"}},
		Outputs: []string{"portabilling.product"}}
}

func (copier) Process(_ context.Context, in *stream.Record, out *stream.Output) error {
	if in.Event.EventType == "Bad" {
		return stream.Poison("invalid", errors.New("bad event"))
	}
	return out.Event("portabilling.product", string(in.Raw.Key), in.Event)
}

func setup(t *testing.T, parts map[string]int32) (*embedded.Cluster, *kgo.Client, *schemas.Codec) {
	t.Helper()
	c := embeddedtest.Start(t, 0)
	for topic, n := range parts {
		c.Create(t, n, topic)
	}
	c.Use(t, "portabilling.customer", "portabilling.product")
	return c.Cluster, c.Client, c.Codec
}

func TestPoisonGoesToDLQAndProcessingGoesOn(t *testing.T) {
	t.Parallel()
	emb, cl, codec := setup(t, map[string]int32{"portabilling.customer": 3, "portabilling.product": 3, schemas.DLQTopic: 1})
	ctx := context.Background()
	ev := func(id, typ string) *kgo.Record {
		r, err := records.Event(codec, "portabilling.customer", id, &schemas.Event{EventID: id, Source: "portabilling",
			EventType: typ, Origin: schemas.OriginDirect, Payload: "{}"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	rs := []*kgo.Record{
		ev("1", "Customer/New"),
		{Topic: "portabilling.customer", Key: []byte("2"), Value: []byte("not avro")},
		{Topic: "portabilling.customer", Key: []byte("3"), Value: []byte{0, 0, 0, 0x7f, 0x7f, 1}}, // unknown schema id
		ev("4", "Bad"),
		ev("5", "Customer/New"),
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r, err := stream.New(copier{}, stream.WithKafka(kgo.SeedBrokers(emb.Brokers()...)), stream.WithCodec(codec))
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

	got := consume(t, emb, 5, "portabilling.product", schemas.DLQTopic)
	reasons := map[string]string{}
	copied := 0
	for _, rec := range got {
		if rec.Topic == schemas.DLQTopic {
			reason, _ := records.Header(rec, records.HeaderDLQReason)
			reasons[string(rec.Key)] = reason
		} else {
			copied++
		}
	}
	want := map[string]string{"2": "not_wire_format", "3": "unknown_schema", "4": "invalid"}
	for k, v := range want {
		if reasons[k] != v {
			t.Errorf("record %s: DLQ reason %q, want %q (all: %v)", k, reasons[k], v, reasons)
		}
	}
	if copied != 2 {
		t.Errorf("%d events copied, want 2", copied)
	}
}

func TestRefusesNotCoPartitioned(t *testing.T) {
	t.Parallel()
	emb, _, codec := setup(t, map[string]int32{"portabilling.customer": 3, "portabilling.product": 3, schemas.DLQTopic: 1, "state": 2})
	p := tabled{}
	r, err := stream.New(p, stream.WithKafka(kgo.SeedBrokers(emb.Brokers()...)), stream.WithCodec(codec))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = r.Run(ctx)
	if !errors.Is(err, stream.ErrCoPartitioning) {
		t.Fatalf("Run = %v, want ErrCoPartitioning", err)
	}
	t.Log(err)
}

type tabled struct{ copier }

func (tabled) Spec() stream.Spec {
	s := copier{}.Spec()
	s.Tables = []stream.Table{{Changelog: "state", Apply: func(int32, *kgo.Record) error { return nil }, Drop: func(int32) {}}}
	return s
}

// consume reads n records of topics, read_committed.
func consume(t *testing.T, emb *embedded.Cluster, n int, topics ...string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(emb.Brokers()...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("got %d of %d records", len(out), n)
		}
		out = append(out, fs.Records()...)
	}
	return out
}
