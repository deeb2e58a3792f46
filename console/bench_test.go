package console

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"

	"github.com/provbus/provbus/internal/embedded/embeddedtest"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/processors/dispatch"
	"github.com/provbus/provbus/processors/route"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// BenchmarkPages times every page on a cluster holding
// PROVBUS_CONSOLE_BENCH_RECORDS records (default 1 000 000): 60 % account
// events over 100 000 accounts, 20 % inherited ones, 20 % deliveries to
// AricentHSS, with account 11's story among them. Run:
//
//	go test -run '^$' -bench Pages -benchtime 20x ./console/
//
// The cluster is an in-process embedded one, whose million records then
// weigh on this process's garbage collector; set
// PROVBUS_CONSOLE_BENCH_BROKERS and PROVBUS_CONSOLE_BENCH_REGISTRY to the
// addresses of a `provbus dev --components broker,registry` (topology
// applied) to measure the console alone, as it runs.
func BenchmarkPages(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("PROVBUS_CONSOLE_BENCH_RECORDS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	cat, err := topology.Default()
	if err != nil {
		b.Fatal(err)
	}
	var all []string
	for _, d := range append(cat.Domains(), cat.Derived()...) {
		all = append(all, d.Topic)
	}
	all = append(all, cat.HandlerTopics()...)
	var brokers []string
	var cl *kgo.Client
	var reg *sr.Client
	var codec *schemas.Codec
	if ext := os.Getenv("PROVBUS_CONSOLE_BENCH_BROKERS"); ext != "" {
		brokers = strings.Split(ext, ",")
		if cl, err = kgo.NewClient(kgo.SeedBrokers(brokers...)); err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		if reg, err = sr.NewClient(sr.URLs(os.Getenv("PROVBUS_CONSOLE_BENCH_REGISTRY"))); err != nil {
			b.Fatal(err)
		}
		codec = schemas.NewCodec(reg)
		if err := records.Use(ctx, codec, all...); err != nil {
			b.Fatal(err)
		}
	} else {
		ec := embeddedtest.Start(b, 12)
		ec.Create(b, 12, append(all, topology.TopicQuarantine, topology.TopicDLQ)...)
		ec.Use(b, all...)
		brokers, cl, reg, codec = ec.Brokers(), ec.Client, ec.Registry, ec.Codec
	}

	start := time.Now()
	t0 := time.Now().Add(-24 * time.Hour)
	batch := make([]*kgo.Record, 0, 10_000)
	flush := func() {
		if err := cl.ProduceSync(ctx, batch...).FirstErr(); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	for i := 0; i < n; i++ {
		acc := int64(i%100_000) + 1
		cust := acc/10 + 1
		ev := &schemas.Event{EventID: fmt.Sprintf("e%d", i), Source: "portabilling", EventType: "Account/New", Origin: "DIRECT",
			OccurredAt: t0, ReceivedAt: t0, IAccount: &acc, ICustomer: &cust,
			Attributes: map[string]string{"i_account": strconv.FormatInt(acc, 10)}, Payload: `{"event_type":"Account/New"}`}
		topic := "portabilling.account"
		switch i % 5 {
		case 3:
			topic, ev.EventType, ev.Origin = topology.TopicAccountInherited, "Account/Status/Suspend", "INHERITED"
			p, k := fmt.Sprintf("c%d", cust), "CUSTOMER"
			ev.ParentEventID, ev.InheritedFrom = &p, &k
		case 4:
			topic, ev.EventType, ev.Origin = "handler.aricenthss", "Account/Status/Suspend", "INHERITED"
		}
		r, err := records.Event(codec, topic, strconv.FormatInt(acc, 10), ev)
		if err != nil {
			b.Fatal(err)
		}
		r.Timestamp = t0.Add(time.Duration(i) * time.Millisecond)
		batch = append(batch, r)
		if len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
	b.Logf("%d records written in %s", n, time.Since(start).Round(time.Millisecond))

	dial := func(opts ...kgo.Opt) (*kgo.Client, error) {
		return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	}
	s, err := New(cat, dial, codec, WithRegistry(reg), WithLogger(zap.NewNop()),
		WithProcessors(directory.New().Spec(), dispatch.New(cat, zap.NewNop()).Spec(), route.NewStream(cat, time.Hour).Spec()))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	first, err := s.readLatest(ctx, "portabilling.account", 1)
	if err != nil || len(first.Records) == 0 {
		b.Fatalf("no record to open: %v", err)
	}
	for _, p := range []struct{ name, path string }{
		{"flow", "/ui/"},
		{"handlers", "/ui/handlers"},
		{"handler", "/ui/handlers/aricenthss"},
		{"entity", "/ui/entities?account=11"},
		{"event", eventHref(first.Records[0])},
		{"catalog", "/ui/catalog?q=Account"},
		{"dlq", "/ui/dlq"},
		{"quarantine", "/ui/quarantine"},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				// Time the uncached cost: drop the 2 s snapshot.
				s.stats.mu.Lock()
				s.stats.samples = nil
				s.stats.mu.Unlock()
				resp, err := http.Get(srv.URL + p.path)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body) //nolint:errcheck // timing only
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("%s: %d", p.path, resp.StatusCode)
				}
			}
		})
	}
}
