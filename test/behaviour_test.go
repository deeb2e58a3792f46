package test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/redpanda"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/provbus/provbus/internal/embedded"
	"github.com/provbus/provbus/schemas"
)

// clusterAddrs is where a behaviour suite's Kafka and registry are.
type clusterAddrs struct{ brokers, registry string }

// clusterMaker starts a cluster for one run of the suite and stops it when
// the test ends.
type clusterMaker func(t *testing.T) clusterAddrs

// TestBehaviourEmbedded runs the behaviour suite on the embedded cluster:
// always, everywhere.
func TestBehaviourEmbedded(t *testing.T) { runBehaviour(t, embeddedCluster, "") }

// TestBehaviourEmbeddedPrefixed runs the suite with topics.prefix set:
// every topic and subject must live under the prefix, and nothing outside.
func TestBehaviourEmbeddedPrefixed(t *testing.T) { runBehaviour(t, embeddedCluster, "staging.") }

// TestBehaviourRedpanda runs the same suite on Redpanda (the Kafka protocol
// and a Schema Registry in one container) when a Docker engine answers.
func TestBehaviourRedpanda(t *testing.T) {
	testcontainers.SkipIfProviderIsNotHealthy(t)
	runBehaviour(t, redpandaCluster, "")
}

func embeddedCluster(t *testing.T) clusterAddrs {
	c, err := embedded.Start(context.Background(), embedded.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Broker: true, Registry: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return clusterAddrs{brokers: strings.Join(c.Brokers(), ","), registry: c.RegistryURL()}
}

// redpandaImage is pinned: a behaviour suite on a moving target proves
// nothing.
const redpandaImage = "docker.redpanda.com/redpandadata/redpanda:v23.3.3"

func redpandaCluster(t *testing.T) clusterAddrs {
	ctx := context.Background()
	c, err := redpanda.Run(ctx, redpandaImage)
	testcontainers.CleanupContainer(t, c)
	if err != nil {
		t.Fatal(err)
	}
	brokers, err := c.KafkaSeedBroker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := c.SchemaRegistryAddress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return clusterAddrs{brokers: brokers, registry: reg}
}

// runBehaviour is the one behaviour suite: topology, ingest, dispatch,
// routing, de-duplication and quarantine, through provbus processes
// pointed at the cluster the maker gives.
func runBehaviour(t *testing.T, makeCluster clusterMaker, prefix string) {
	t.Setenv("PROVBUS_TOPICS_PARTITIONS", "3") // fewer partitions: faster group joins
	t.Setenv("PROVBUS_TOPICS_PREFIX", prefix)
	c := makeCluster(t)
	global := []string{"--brokers", c.brokers, "--registry", c.registry}
	bin := provbusBinary(t)

	run := func(args ...string) string {
		out, err := exec.Command(bin, append(global, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("provbus %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("topology", "apply")
	if out := run("topology", "plan"); !strings.Contains(out, "no changes") {
		t.Fatalf("plan after apply is not empty:\n%s", out)
	}

	httpAddr := freeAddr(t)
	ing := startProvbus(t, append(global, "ingest", "--insecure-no-auth", "--http", httpAddr, "--metrics", "127.0.0.1:0")...)
	ing.waitHTTP("http://"+httpAddr+"/readyz", 60*time.Second)
	startProvbus(t, append(global, "process", "--metrics", "127.0.0.1:0", "--transaction-timeout", "10s")...)

	post := func(source, body string) {
		t.Helper()
		resp, err := http.Post(fmt.Sprintf("http://%s/v1/sources/%s/events", httpAddr, source), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %d", body, resp.StatusCode)
		}
	}
	post("portabilling", `[{"event_type":"Account/New","variables":{"i_event":"b1","i_account":11,"i_customer":1,"i_product":7}},
		{"event_type":"Account/New","variables":{"i_event":"b2","i_account":12,"i_customer":1,"i_product":7}}]`)
	time.Sleep(500 * time.Millisecond) // the membership is in the log before the customer event
	post("portabilling", `{"event_type":"Customer/Status/Suspend","variables":{"i_event":"b3","i_customer":1}}`)
	for i := 0; i < 5; i++ { // a webhook retried five times
		post("portabilling", `{"event_type":"Account/Blocked","variables":{"i_event":"b4","i_account":11}}`)
	}
	post("jerasoft", `{"event":{"dt":"2026-11-22T10:00:00+00:00","events_id":"clients.teleport","object_id":5},"data":{}}`)

	reg, err := sr.NewClient(sr.URLs(c.registry))
	if err != nil {
		t.Fatal(err)
	}
	codec := schemas.NewCodec(reg)
	got := readHandler(t, c.brokers, codec, prefix+"handler.aricenthss", 3, 3*time.Second)
	want := map[string]int{"Account/Status/Suspend INHERITED 11": 1, "Account/Status/Suspend INHERITED 12": 1, "Account/Blocked DIRECT 11": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("handler.aricenthss = %v, want %v", got, want)
	}

	quarantined := readRaw(t, c.brokers, prefix+schemas.QuarantineTopic, 1, time.Second)
	var q schemas.Quarantined
	if _, err := codec.Decode(context.Background(), quarantined[0].Value, &q); err != nil || !bytes.Contains(q.Body, []byte("clients.teleport")) {
		t.Fatalf("quarantine record: %v %+v", err, q)
	}
	if prefix != "" {
		checkNamespace(t, c, prefix)
	}
}

// checkNamespace fails when any topic or subject lies outside prefix.
func checkNamespace(t *testing.T, c clusterAddrs, prefix string) {
	t.Helper()
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range topics.Names() {
		if !strings.HasPrefix(name, prefix) {
			t.Errorf("topic %s is outside the namespace %q", name, prefix)
		}
	}
	reg, _ := sr.NewClient(sr.URLs(c.registry))
	subjects, err := reg.Subjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subjects {
		if !strings.HasPrefix(s, prefix) {
			t.Errorf("subject %s is outside the namespace %q", s, prefix)
		}
	}
	groups, err := kadm.NewClient(cl).ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.Groups() {
		if !strings.HasPrefix(g, prefix) {
			t.Errorf("consumer group %s is outside the namespace %q", g, prefix)
		}
	}
	if len(groups.Groups()) < 3 {
		t.Errorf("the namespace %q has %d consumer groups, want the 3 processors'", prefix, len(groups.Groups()))
	}
	if len(topics.Names()) < 50 || len(subjects) < 30 {
		t.Fatalf("namespace %q holds %d topics and %d subjects: topology was not applied in it", prefix, len(topics.Names()), len(subjects))
	}
}

// readHandler reads a handler topic read_committed until it holds want
// records, then for settle more to catch duplicates, and counts them by
// "type origin key". Inherited events must carry their parent's id.
func readHandler(t *testing.T, brokers string, codec *schemas.Codec, topic string, want int, settle time.Duration) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, r := range readRaw(t, brokers, topic, want, settle) {
		var ev schemas.Event
		if _, err := codec.Decode(context.Background(), r.Value, &ev); err != nil {
			t.Fatalf("%s: %v", topic, err)
		}
		if ev.Origin == schemas.OriginInherited && (ev.ParentEventID == nil || *ev.ParentEventID != "b3") {
			t.Fatalf("inherited event without its parent: %+v", ev)
		}
		counts[fmt.Sprintf("%s %s %s", ev.EventType, ev.Origin, r.Key)]++
	}
	return counts
}

// readRaw consumes topic from the start, read_committed, until it has at
// least n records and then settle more time has passed.
func readRaw(t *testing.T, brokers, topic string, n int, settle time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out []*kgo.Record
	var settleUntil time.Time
	for {
		if len(out) >= n && settleUntil.IsZero() {
			settleUntil = time.Now().Add(settle)
		}
		if !settleUntil.IsZero() && time.Now().After(settleUntil) {
			return out
		}
		pctx, pcancel := context.WithTimeout(ctx, 250*time.Millisecond)
		fs := cl.PollFetches(pctx)
		pcancel()
		if ctx.Err() != nil {
			t.Fatalf("%s: %d records after 90 s, want %d", topic, len(out), n)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
}
