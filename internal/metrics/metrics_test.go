package metrics

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// contract is docs/operations.md's metric table: name → labels. The
// dashboard and people's alerts depend on exactly these.
var contract = map[string][]string{
	"provbus_ingest_events_total":            {"outcome", "source", "type"},
	"provbus_ingest_requests_total":          {"code", "source"},
	"provbus_ingest_latency_seconds":         {"source"},
	"provbus_records_produced_total":         {"topic"},
	"provbus_dispatch_fanout_size":           nil,
	"provbus_process_latency_seconds":        {"processor"},
	"provbus_dedup_hits_total":               nil,
	"provbus_dedup_evictions_total":          nil,
	"provbus_dlq_records_total":              {"reason", "topic"},
	"provbus_consumer_lag":                   {"group", "partition", "topic"},
	"provbus_directory_accounts":             nil,
	"provbus_dispatch_blocked_since_seconds": nil,
}

func TestContract(t *testing.T) {
	p := New(nil)
	// Touch every vector so each family has a series to gather.
	p.IngestEvent("portabilling", "Account/New", OutcomeAccepted).Inc()
	p.IngestRequest("portabilling", 200).Inc()
	p.IngestLatency("portabilling").Observe(0.01)
	p.Produced("portabilling.account").Inc()
	p.FanoutSize().Observe(3)
	p.ProcessLatency("route").Observe(0.01)
	p.DedupHits().Inc()
	p.DedupEvictions().Inc()
	p.DLQ("not_wire_format", "portabilling.account").Inc()
	p.Lag("provbus-route", "portabilling.account", 2).Set(5)
	p.DirectoryAccounts().Set(7)

	checkContract(t, p, contract)
	if got := value(t, p.Lag("provbus-route", "portabilling.account", 2)); got != 5 {
		t.Errorf("lag = %v, want 5", got)
	}
	p.ForgetLag("provbus-route", "portabilling.account", 2)
	if n := count(p.lag); n != 0 {
		t.Errorf("%d lag series after ForgetLag, want 0", n)
	}
}

// TestSameRegistryTwice checks that a second Pipeline on one registry
// shares the first one's collectors instead of panicking.
func TestSameRegistryTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := New(reg), New(reg)
	a.DedupHits().Inc()
	b.DedupHits().Inc()
	if got := value(t, a.DedupHits()); got != 2 {
		t.Errorf("dedup hits = %v, want 2 (shared counter)", got)
	}
}

func TestEventSeriesBounded(t *testing.T) {
	p := New(nil)
	for i := range MaxEventSeries + 50 {
		p.IngestEvent("transatel", "X/"+strings.Repeat("a", i%7)+string(rune('A'+i%26))+strconv.Itoa(i), OutcomeQuarantined).Inc()
	}
	if n := count(p.ingestEvents); n != MaxEventSeries+1 {
		t.Errorf("%d series, want %d (the bound plus %q)", n, MaxEventSeries+1, TypeOther)
	}
	if got := value(t, p.ingestEvents.WithLabelValues("transatel", TypeOther, OutcomeQuarantined)); got != 50 {
		t.Errorf("other = %v, want 50", got)
	}
}

func TestNilPipeline(t *testing.T) {
	var p *Pipeline
	p.IngestEvent("a", "b", "c").Inc()
	p.IngestLatency("a").Observe(1)
	p.Lag("g", "t", 0).Set(1)
	p.ForgetLag("g", "t", 0)
	p.DirectoryAccounts().Set(1)
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), p.Kafka("x"))
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()
}

// TestKafkaClients checks that two open clients with the same name get
// their own series (kprom registers per client; the same labels twice
// would panic) and that closing one unregisters only its own.
func TestKafkaClients(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := New(nil)
	open := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("t"), p.Kafka("route"))
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		return cl
	}
	a, b := open(), open()
	clients := func() []string {
		mfs, err := p.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, mf := range mfs {
			if mf.GetName() != "kafka_produce_records_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "client" {
						out = append(out, l.GetValue())
					}
				}
			}
		}
		slices.Sort(out)
		return out
	}
	// kprom counts a batch in a hook that may run just after ProduceSync
	// returns: wait for both series, with a deadline.
	got := clients()
	for deadline := time.Now().Add(5 * time.Second); !slices.Equal(got, []string{"route", "route-2"}) && time.Now().Before(deadline); got = clients() {
		time.Sleep(10 * time.Millisecond)
	}
	if !slices.Equal(got, []string{"route", "route-2"}) {
		t.Fatalf("clients %v, want [route route-2]", got)
	}
	b.Close()
	if got := clients(); !slices.Equal(got, []string{"route"}) {
		t.Fatalf("after closing one: clients %v, want [route]", got)
	}
	a.Close()
	open().Close() // the name is free again
}

// value reads a counter or gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// count returns how many series c has.
func count(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric)
	go func() { c.Collect(ch); close(ch) }()
	n := 0
	for range ch {
		n++
	}
	return n
}

// checkContract asserts that p exports every family of contract with
// exactly its labels, and returns the number of series of each.
func checkContract(t *testing.T, p *Pipeline, contract map[string][]string) map[string]int {
	t.Helper()
	mfs, err := p.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := map[string]int{}
	for _, mf := range mfs {
		want, ok := contract[mf.GetName()]
		if !ok {
			continue
		}
		series[mf.GetName()] = len(mf.GetMetric())
		var got []string
		for _, l := range mf.GetMetric()[0].GetLabel() {
			got = append(got, l.GetName())
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s labels %v, want %v", mf.GetName(), got, want)
		}
	}
	for name := range contract {
		if series[name] == 0 {
			t.Errorf("%s is not exported", name)
		}
	}
	return series
}
