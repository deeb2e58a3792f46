package test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
)

// Issue 8 #7: a bad magic byte, an unknown schema id and truncated Avro
// in a domain topic, between valid events: each lands in provbus.dlq with
// its reason, every valid event reaches its handlers, and the processor
// neither dies nor loops.
func TestFaultPoisonRecords(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, 1, "")
	_, base := p.startIngest("--insecure-no-auth")
	proc := p.startProcess("--processors", "route")
	exp := newExpect()
	postAccounts := func(from, to int) {
		var bodies []string
		for a := from; a < to; a++ {
			id := fmt.Sprintf("pz-%d", a)
			bodies = append(bodies, espf("Account/New", id, fmt.Sprintf(`"i_account":%d`, a)))
			p.expectRouted(exp, &schemas.Event{EventID: id, EventType: "Account/New", Origin: schemas.OriginDirect}, itoa(int64(a)), nil)
		}
		if code, _, b, err := post(base, "portabilling", "["+strings.Join(bodies, ",")+"]"); err != nil || code != 200 {
			t.Fatalf("post: %d %v %s", code, err, b)
		}
	}
	postAccounts(0, 50)
	// A valid record to truncate, encoded as the ingest would.
	if err := records.Use(context.Background(), p.codec, "portabilling.account"); err != nil {
		t.Fatal(err)
	}
	good, err := records.Event(p.codec, "portabilling.account", "999", &schemas.Event{EventID: "pz-trunc", Source: "portabilling",
		EventType: "Account/New", Origin: schemas.OriginDirect, IAccount: id(999), OccurredAt: time.Now(), ReceivedAt: time.Now(),
		Payload: "{}", Attributes: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	poison := []*kgo.Record{
		{Topic: "portabilling.account", Key: []byte("1"), Value: []byte{7, 0, 0, 0, 1, 2, 3}},          // bad magic
		{Topic: "portabilling.account", Key: []byte("2"), Value: []byte{0, 0x7f, 0xff, 0xff, 0xf0, 2}}, // unknown schema id
		{Topic: "portabilling.account", Key: []byte("3"), Value: good.Value[:len(good.Value)/2]},       // truncated Avro
	}
	if err := p.cl.ProduceSync(context.Background(), poison...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	postAccounts(50, 100)

	got := p.read(p.handlerTopics(), exp.len(), 5*time.Second, 120*time.Second)
	res := checkEO(exp, got)
	reasons := dlqReasons(t, p, 3)
	alive := proc.cmd.ProcessState == nil
	report(t, "3 poison records (bad magic, unknown schema id, truncated Avro) among 100 valid events",
		fmt.Sprintf("DLQ reasons %v; valid: %s; processor alive %v", reasons, res, alive))
	for _, want := range []string{"not_wire_format", "unknown_schema", "undecodable"} {
		if reasons[want] != 1 {
			t.Errorf("DLQ: %d records with reason %s, want 1 (%v)", reasons[want], want, reasons)
		}
	}
	if !res.ok() {
		t.Errorf("valid events: %s", res)
	}
	if !alive {
		t.Errorf("the processor exited: %s", tail(proc.out.String(), 2000))
	}
}

// dlqReasons reads want records of provbus.dlq and counts their reasons.
func dlqReasons(t *testing.T, p *pipeline, want int) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.brokers), kgo.ConsumeTopics(schemas.DLQTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for n := 0; n < want && ctx.Err() == nil; {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			n++
			for _, h := range r.Headers {
				if h.Key == records.HeaderDLQReason {
					out[string(h.Value)]++
				}
			}
		})
	}
	return out
}
