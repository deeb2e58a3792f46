package embedded

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

const testSchema = `{"type":"record","name":"Probe","namespace":"provbus.test","fields":[{"name":"id","type":"string"}]}`

// start runs a cluster on dir ("" = in memory) with free ports, closed at
// the end of the test.
func start(t *testing.T, dir string) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Start(ctx, Config{
		DataDir:      dir,
		KafkaAddr:    "127.0.0.1:0",
		RegistryAddr: "127.0.0.1:0",
		Partitions:   3,
		Logger:       zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)),
		Broker:       true,
		Registry:     true,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func client(t *testing.T, c *Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Brokers()...)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func suffix() string { return fmt.Sprintf("%08x", rand.Uint32()) }

// consume reads topic from the start until want records arrived or the
// deadline passed.
func consume(t *testing.T, c *Cluster, topic string, want int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl := client(t, c, append([]kgo.Opt{
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, opts...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		if err := fs.Err0(); err != nil {
			t.Fatalf("poll: %v", err)
		}
		got = append(got, fs.Records()...)
	}
	return got
}

func TestRestartKeepsTopicsRecordsOffsetsAndSchemas(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	topic, group := "embedded.restart."+suffix(), "embedded-restart-"+suffix()

	c := start(t, dir)
	prod := client(t, c, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic(topic))
	adm := kadm.NewClient(prod)
	if resp, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("CreateTopic: %v / %v", err, resp.Err)
	}
	var recs []*kgo.Record
	var want []string
	for i := range 30 {
		v := fmt.Sprintf("event-%02d", i)
		want = append(want, v)
		recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(v)})
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	var commit kadm.Offsets
	for p := range int32(3) {
		commit.AddOffset(topic, p, 2, -1)
	}
	if resp, err := adm.CommitOffsets(ctx, group, commit); err != nil || resp.Error() != nil {
		t.Fatalf("CommitOffsets: %v / %v", err, resp.Error())
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("ListEndOffsets: %v", err)
	}
	srcl, err := sr.NewClient(sr.URLs(c.RegistryURL()))
	if err != nil {
		t.Fatal(err)
	}
	schemaID, err := srcl.RegisterSchema(ctx, topic+"-value", sr.Schema{Schema: testSchema}, -1, -1)
	if err != nil {
		t.Fatalf("register schema: %v", err)
	}
	prod.Close()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	c2 := start(t, dir)
	adm2 := kadm.NewClient(client(t, c2))
	topics, err := adm2.ListTopics(ctx, topic)
	if err != nil || topics.Error() != nil {
		t.Fatalf("ListTopics: %v / %v", err, topics.Error())
	}
	if n := len(topics[topic].Partitions); n != 3 {
		t.Fatalf("topic has %d partitions after restart, want 3", n)
	}

	got := consume(t, c2, topic, len(want))
	var values []string
	for _, r := range got {
		values = append(values, string(r.Value))
	}
	slices.Sort(values)
	if !slices.Equal(values, want) {
		t.Fatalf("records after restart:\n got %v\nwant %v", values, want)
	}

	offs, err := adm2.FetchOffsets(ctx, group)
	if err != nil || offs.Error() != nil {
		t.Fatalf("FetchOffsets: %v / %v", err, offs.Error())
	}
	for p := range int32(3) {
		if o, ok := offs.Lookup(topic, p); !ok || o.At != 2 {
			t.Fatalf("partition %d committed offset after restart: %+v (found %v), want 2", p, o, ok)
		}
	}

	// The log continues where it stopped: a new record lands at the old
	// end offset, not over an old one.
	prod2 := client(t, c2, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	r, err := prod2.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("after-restart")}).First()
	if err != nil {
		t.Fatalf("produce after restart: %v", err)
	}
	if end, _ := ends.Lookup(topic, 0); r.Offset != end.Offset {
		t.Fatalf("record after restart at offset %d, want old end offset %d", r.Offset, end.Offset)
	}

	srcl2, err := sr.NewClient(sr.URLs(c2.RegistryURL()))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := srcl2.SchemaByID(ctx, schemaID); err != nil || s.Schema != testSchema {
		t.Fatalf("schema %d after restart: %+v, %v", schemaID, s, err)
	}
	if subjects, err := srcl2.Subjects(ctx); err != nil || !slices.Contains(subjects, topic+"-value") {
		t.Fatalf("subjects after restart: %v, %v", subjects, err)
	}
}

func TestCommittedTransactionSurvivesCleanRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	topic, txid := "embedded.txn."+suffix(), "embedded-txn-"+suffix()

	c := start(t, dir)
	txn := client(t, c, kgo.TransactionalID(txid), kgo.DefaultProduceTopic(topic))
	if resp, err := kadm.NewClient(txn).CreateTopic(ctx, 1, 1, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("CreateTopic: %v / %v", err, resp.Err)
	}
	runTxn := func(cl *kgo.Client, prefix string, commit kgo.TransactionEndTry) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		for i := range 5 {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "%s-%d", prefix, i)}).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
		}
		if err := cl.EndTransaction(ctx, commit); err != nil {
			t.Fatalf("end transaction: %v", err)
		}
	}
	// An aborted transaction first: read_committed must skip it after the
	// restart too, which needs its abort marker to have been persisted.
	runTxn(txn, "aborted", kgo.TryAbort)
	runTxn(txn, "committed", kgo.TryCommit)
	txn.Close()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	c2 := start(t, dir)
	got := consume(t, c2, topic, 5, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	var values []string
	for _, r := range got {
		values = append(values, string(r.Value))
	}
	want := []string{"committed-0", "committed-1", "committed-2", "committed-3", "committed-4"}
	if !slices.Equal(values, want) {
		t.Fatalf("read_committed after restart: got %v, want %v", values, want)
	}

	// No transaction is left hanging: the last stable offset is the end.
	adm := kadm.NewClient(client(t, c2))
	lso, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("ListCommittedOffsets: %v", err)
	}
	end, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("ListEndOffsets: %v", err)
	}
	l, _ := lso.Lookup(topic, 0)
	e, _ := end.Lookup(topic, 0)
	if l.Offset != e.Offset {
		t.Fatalf("last stable offset %d != end offset %d after clean restart", l.Offset, e.Offset)
	}

	// The same transactional id carries on after the restart.
	txn2 := client(t, c2, kgo.TransactionalID(txid), kgo.DefaultProduceTopic(topic))
	runTxn(txn2, "again", kgo.TryCommit)
	if got := consume(t, c2, topic, 10, kgo.FetchIsolationLevel(kgo.ReadCommitted())); len(got) != 10 {
		t.Fatalf("after a second committed transaction: %d records, want 10", len(got))
	}
}

func TestComponentsAndClose(t *testing.T) {
	ctx := context.Background()
	if _, err := Start(ctx, Config{}); err == nil {
		t.Fatal("Start with no component selected succeeded")
	}

	brokerOnly, err := Start(ctx, Config{KafkaAddr: "0.0.0.0:0", Broker: true})
	if err != nil {
		t.Fatalf("broker only: %v", err)
	}
	if brokerOnly.Kafka() == nil || brokerOnly.RegistryURL() != "" {
		t.Fatalf("broker only: kafka %v registry %q", brokerOnly.Kafka(), brokerOnly.RegistryURL())
	}
	// A wildcard bind is advertised as an address clients can dial.
	if b := brokerOnly.Brokers(); len(b) != 1 || !strings.HasPrefix(b[0], "127.0.0.1:") {
		t.Fatalf("wildcard bind advertised as %v", b)
	}
	cl := client(t, brokerOnly)
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("ping advertised broker: %v", err)
	}
	for range 2 {
		if err := brokerOnly.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}

	regOnly, err := Start(ctx, Config{RegistryAddr: "127.0.0.1:0", Registry: true})
	if err != nil {
		t.Fatalf("registry only: %v", err)
	}
	if regOnly.Kafka() != nil || regOnly.Brokers() != nil || !strings.HasPrefix(regOnly.RegistryURL(), "http://127.0.0.1:") {
		t.Fatalf("registry only: kafka %v brokers %v url %q", regOnly.Kafka(), regOnly.Brokers(), regOnly.RegistryURL())
	}
	for range 2 {
		if err := regOnly.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

// Topics are created by the topology step only: producing to an unknown
// topic must fail rather than create it.
func TestNoAutoTopicCreation(t *testing.T) {
	c := start(t, "")
	cl := client(t, c, kgo.AllowAutoTopicCreation(), kgo.RecordDeliveryTimeout(2*time.Second))
	err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "embedded.missing." + suffix(), Value: []byte("x")}).FirstErr()
	if err == nil {
		t.Fatal("produce to a missing topic created it")
	}
}
