package test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMetricsDev runs the whole pipeline (`provbus dev`), drives every
// outcome a metric counts — accepted, inherited fan-out, quarantined,
// rejected, a duplicate, a poison record — and checks that /metrics shows
// every pipeline metric of docs/operations.md with the values those events
// must produce, plus the franz-go client metrics of ingest and the
// processors.
func TestMetricsDev(t *testing.T) {
	t.Setenv("PROVBUS_TOPICS_PARTITIONS", "3") // fewer partitions: faster group joins
	d := newDevCluster(t)
	p := startProvbus(t, "dev", "--data-dir", d.dataDir, "--kafka", d.kafka, "--registry-addr", d.registry, "--http", d.http)
	base := "http://" + d.http
	p.waitHTTP(base+"/readyz", 60*time.Second)

	send := func(want int, body string) {
		t.Helper()
		resp, err := http.Post(base+"/v1/sources/portabilling/events", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("POST %s: %d %s, want %d", body, resp.StatusCode, b, want)
		}
	}
	send(200, `{"event_type":"Account/New","variables":{"i_event":"m1","i_account":31,"i_customer":3,"i_product":9}}`)
	time.Sleep(500 * time.Millisecond) // the membership is in the log before the customer event
	send(200, `{"event_type":"Customer/Status/Suspend","variables":{"i_event":"m2","i_customer":3}}`)
	send(200, `{"event_type":"Account/Blocked","variables":{"i_event":"m3","i_account":31}}`)
	send(200, `{"event_type":"Account/Blocked","variables":{"i_event":"m3","i_account":31}}`) // a retried webhook
	send(200, `{"event_type":"Account/Teleported","variables":{"i_event":"m4","i_account":31}}`)
	send(400, `{"event_type":`)

	// A record no provbus producer wrote: the directory and the router
	// both read portabilling.account and must send it to the DLQ.
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.kafka))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	poison := &kgo.Record{Topic: "portabilling.account", Key: []byte("31"), Value: []byte("not avro")}
	if err := cl.ProduceSync(context.Background(), poison).FirstErr(); err != nil {
		t.Fatal(err)
	}

	type check struct {
		what string
		ok   func(m scrape) bool
	}
	atLeast := func(name string, labels string, min float64) check {
		return check{fmt.Sprintf("%s{%s} ≥ %v", name, labels, min), func(m scrape) bool { return m.sum(name, labels) >= min }}
	}
	present := func(name, labels string) check {
		return check{fmt.Sprintf("%s{%s} present", name, labels), func(m scrape) bool { return m.has(name, labels) }}
	}
	checks := []check{
		atLeast("provbus_ingest_events_total", `source="portabilling",type="Account/New",outcome="accepted"`, 1),
		atLeast("provbus_ingest_events_total", `source="portabilling",type="Account/Blocked",outcome="accepted"`, 2),
		atLeast("provbus_ingest_events_total", `source="portabilling",type="Account/Teleported",outcome="quarantined"`, 1),
		atLeast("provbus_ingest_events_total", `source="portabilling",type="unparsed",outcome="rejected_bad_request"`, 1),
		atLeast("provbus_ingest_requests_total", `source="portabilling",code="400"`, 1),
		atLeast("provbus_ingest_latency_seconds_count", `source="portabilling"`, 5),
		atLeast("provbus_records_produced_total", `topic="portabilling.account"`, 3),
		atLeast("provbus_records_produced_total", `topic="provbus.quarantine"`, 1),
		atLeast("provbus_records_produced_total", `topic="portabilling.account.inherited"`, 1),
		atLeast("provbus_records_produced_total", `topic="provbus.dlq"`, 2),
		atLeast("provbus_records_produced_total", `topic="handler.aricenthss"`, 2),
		// Customer 3 has one account: one fan-out of one.
		atLeast("provbus_dispatch_fanout_size_count", ``, 1),
		atLeast("provbus_dispatch_fanout_size_sum", ``, 1),
		atLeast("provbus_process_latency_seconds_count", `processor="directory"`, 1),
		atLeast("provbus_process_latency_seconds_count", `processor="dispatch"`, 1),
		atLeast("provbus_process_latency_seconds_count", `processor="route"`, 1),
		atLeast("provbus_dedup_hits_total", ``, 1),
		atLeast("provbus_dlq_records_total", `reason="not_wire_format",topic="portabilling.account"`, 2),
		present("provbus_consumer_lag", `group="provbus-route",topic="portabilling.account"`),
		present("provbus_consumer_lag", `group="provbus-directory",topic="portabilling.account"`),
		present("provbus_consumer_lag", `group="provbus-dispatch",topic="portabilling.customer"`),
		// Caught up: ingest and the raw producer write without
		// transactions, so no commit marker keeps the lag at 1.
		{`provbus_consumer_lag{topic="portabilling.account"} all 0`, func(m scrape) bool {
			return m.has("provbus_consumer_lag", `topic="portabilling.account"`) && m.max("provbus_consumer_lag", `topic="portabilling.account"`) == 0
		}},
		atLeast("provbus_directory_accounts", ``, 1),
		atLeast("kafka_produce_records_total", `client="ingest"`, 1),
		atLeast("kafka_fetch_records_total", `client="provbus-route"`, 1),
		present("kafka_produce_uncompressed_bytes_total", `client="provbus-dispatch"`),
		// Error counters have no series until an error happens.
		atLeast("kafka_connects_total", `client="provbus-directory"`, 1),
		present("kafka_buffered_produce_records_total", `client="ingest"`),
		present("go_goroutines", ``),
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		m := scrapeMetrics(t, base+"/metrics")
		var failed []string
		for _, c := range checks {
			if !c.ok(m) {
				failed = append(failed, c.what)
			}
		}
		if len(failed) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s, /metrics fails:\n  %s", strings.Join(failed, "\n  "))
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Help text and types come from one definition each (a second one
	// would have made the registry refuse it and this scrape fail).
	m := scrapeMetrics(t, base+"/metrics")
	for name, typ := range map[string]string{
		"provbus_ingest_events_total": "counter", "provbus_ingest_latency_seconds": "histogram",
		"provbus_records_produced_total": "counter", "provbus_dispatch_fanout_size": "histogram",
		"provbus_process_latency_seconds": "histogram", "provbus_dedup_hits_total": "counter",
		"provbus_dlq_records_total": "counter", "provbus_consumer_lag": "gauge",
		"provbus_directory_accounts": "gauge",
	} {
		if m.types[name] != typ {
			t.Errorf("%s has type %q, want %s", name, m.types[name], typ)
		}
	}
}

// scrape is one /metrics answer: every sample as name, label text and
// value, and the TYPE of each family.
type scrape struct {
	samples []sample
	types   map[string]string
}

type sample struct {
	name, labels string
	value        float64
}

func scrapeMetrics(t *testing.T, url string) scrape {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	s := scrape{types: map[string]string{}}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			s.types[f[2]] = f[3]
		}
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		name, labels := line[:i], ""
		if j := strings.IndexByte(name, '{'); j >= 0 {
			name, labels = name[:j], name[j+1:len(name)-1]
		}
		s.samples = append(s.samples, sample{name, labels, v})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return s
}

// match reports whether a sample's labels include every pair of want
// (`a="x",b="y"`; label values here hold no commas).
func (s sample) match(name, want string) bool {
	if s.name != name {
		return false
	}
	for _, kv := range strings.Split(want, ",") {
		if kv != "" && !strings.Contains(","+s.labels+",", ","+kv+",") {
			return false
		}
	}
	return true
}

func (m scrape) has(name, labels string) bool {
	for _, s := range m.samples {
		if s.match(name, labels) {
			return true
		}
	}
	return false
}

func (m scrape) sum(name, labels string) float64 {
	total := 0.0
	for _, s := range m.samples {
		if s.match(name, labels) {
			total += s.value
		}
	}
	return total
}

func (m scrape) max(name, labels string) float64 {
	hi := 0.0
	for _, s := range m.samples {
		if s.match(name, labels) && s.value > hi {
			hi = s.value
		}
	}
	return hi
}
