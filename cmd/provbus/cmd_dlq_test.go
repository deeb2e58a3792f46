package main

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/dlq"
	"github.com/provbus/provbus/internal/embedded/embeddedtest"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
)

// TestDLQListRedrive: list reads the DLQ; redrive sends back the record
// that now decodes, to its source topic without the DLQ headers, and leaves
// the garbage one.
func TestDLQListRedrive(t *testing.T) {
	ctx := context.Background()
	ec := embeddedtest.Start(t, 0)
	cl, codec := ec.Client, ec.Codec
	const src = "portabilling.account"
	ec.Create(t, 2, src, schemas.DLQTopic)
	ec.Use(t, src)
	a := int64(42)
	good, err := records.Event(codec, src, "42", &schemas.Event{EventID: "e1", Source: "portabilling", EventType: "Account/New", Origin: "DIRECT", IAccount: &a, OccurredAt: time.Now(), ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	good.Topic, good.Partition, good.Offset = src, 1, 7
	bad := &kgo.Record{Topic: src, Key: []byte("42"), Value: []byte("garbage"), Partition: 1, Offset: 8}
	now := time.Now().UTC().Format(time.RFC3339)
	dead := []*kgo.Record{
		records.DLQ(good, "provbus-route", "unroutable", errTest("no subscriber yet"), now),
		records.DLQ(bad, "provbus-route", "not_wire_format", errTest("bad magic"), now),
	}
	if err := cl.ProduceSync(ctx, dead...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	base := []string{"--brokers", ec.Brokers()[0], "--registry", ec.RegistryURL()}
	if code := run(ctx, append(base, "dlq", "list")); code != 0 {
		t.Fatalf("dlq list: exit %d", code)
	}
	if code := run(ctx, append(base, "dlq", "redrive", "--all")); code != 0 {
		t.Fatalf("dlq redrive: exit %d", code)
	}
	var got []*kgo.Record
	if err := readToEnd(ctx, cl, src, func(r *kgo.Record) bool { got = append(got, r); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d records redriven, want 1", len(got))
	}
	if _, ok := records.Header(got[0], records.HeaderDLQReason); ok {
		t.Error("redriven record keeps DLQ headers")
	}
	if from, _ := records.Header(got[0], dlq.HeaderRedrivenFrom); from == "" || string(got[0].Key) != "42" {
		t.Errorf("redriven record: key %q, from %q", got[0].Key, from)
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }
