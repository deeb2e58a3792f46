package test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// devCluster is `provbus dev --components broker,registry` on free ports.
type devCluster struct {
	dataDir, kafka, registry, http string
}

func newDevCluster(t *testing.T) devCluster {
	return devCluster{dataDir: t.TempDir(), kafka: freeAddr(t), registry: freeAddr(t), http: freeAddr(t)}
}

func (d devCluster) start(t *testing.T) *proc {
	t.Helper()
	p := startProvbus(t, "dev", "--data-dir", d.dataDir, "--kafka", d.kafka, "--registry-addr", d.registry,
		"--http", d.http, "--components", "broker,registry")
	p.waitHTTP("http://"+d.http+"/readyz", 60*time.Second)
	return p
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, b)
	}
}

func produce(t *testing.T, brokers string, topic string, from, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(from + i)), Value: []byte(fmt.Sprintf("v%d", from+i))}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func countRecords(t *testing.T, brokers, topic string) int {
	t.Helper()
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ends.Each(func(o kadm.ListedOffset) { n += int(o.Offset) })
	return n
}

// TestDevRestartKeepsEverything is issue 2's acceptance: provbus dev speaks
// real Kafka (kcat) and the Confluent registry API, and a stop (SIGTERM) or
// a crash (SIGKILL) loses no acknowledged record, offset or schema id.
func TestDevRestartKeepsEverything(t *testing.T) {
	d := newDevCluster(t)
	p := d.start(t)

	if _, err := exec.LookPath("kcat"); err == nil {
		out, err := exec.Command("kcat", "-L", "-b", d.kafka, "-m", "10").CombinedOutput()
		if err != nil || !strings.Contains(string(out), `topic "handler.huawei-pcrf"`) || !strings.Contains(string(out), `topic "portabilling.customer"`) {
			t.Fatalf("kcat -L: %v\n%s", err, tail(string(out), 2000))
		}
	} else {
		t.Log("kcat not installed: skipping the kcat check (.ci/run installs it)")
	}
	var subjects []string
	getJSON(t, "http://"+d.registry+"/subjects", &subjects)
	if !strings.Contains(strings.Join(subjects, " "), "portabilling.customer-value") {
		t.Fatalf("GET /subjects = %v", subjects)
	}
	var v1 struct{ ID int }
	getJSON(t, "http://"+d.registry+"/subjects/portabilling.customer-value/versions/1", &v1)
	var byID struct{ Schema string }
	getJSON(t, fmt.Sprintf("http://%s/schemas/ids/%d", d.registry, v1.ID), &byID)
	if !strings.Contains(byID.Schema, "event_id") {
		t.Fatalf("GET /schemas/ids/%d = %q", v1.ID, byID.Schema)
	}

	const topic = "provbus.dlq" // a topic no processor writes to
	produce(t, d.kafka, topic, 0, 100)
	ctx := context.Background()
	cl, _ := kgo.NewClient(kgo.SeedBrokers(d.kafka))
	if _, err := kadm.NewClient(cl).CommitOffsets(ctx, "restart-test", kadm.OffsetsFromRecords(kgo.Record{Topic: topic, Partition: 0, Offset: 6})); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	if err := p.stop(syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatalf("SIGTERM: exit %v", err)
	}
	p = d.start(t)
	if n := countRecords(t, d.kafka, topic); n != 100 {
		t.Fatalf("after a clean restart %s holds %d records, want 100", topic, n)
	}
	cl, _ = kgo.NewClient(kgo.SeedBrokers(d.kafka))
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, "restart-test")
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup(topic, 0); !ok || o.At != 7 {
		t.Fatalf("committed offset after restart = %+v (found %v), want 7", o, ok)
	}
	var again struct{ ID int }
	getJSON(t, "http://"+d.registry+"/subjects/portabilling.customer-value/versions/1", &again)
	if again.ID != v1.ID {
		t.Fatalf("schema id changed across restart: %d → %d", v1.ID, again.ID)
	}

	// A crash loses no acknowledged record.
	produce(t, d.kafka, topic, 100, 100)
	p.stop(syscall.SIGKILL, 10*time.Second)
	d.start(t)
	if n := countRecords(t, d.kafka, topic); n != 200 {
		t.Fatalf("after SIGKILL %s holds %d records, want 200", topic, n)
	}
}
