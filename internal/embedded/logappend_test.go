package embedded

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// old is the timestamp a producer stamped long ago: a batch retried after
// the records behind it were read carries such a stamp under CreateTime.
var old = time.UnixMilli(1_000_000)

// stampAndRead creates topic (configs may be nil), produces one record
// stamped old through an idempotent producer and returns the timestamp a
// consumer reads, with the wall-clock window of the produce.
func stampAndRead(t *testing.T, brokers []string, topic string, configs map[string]*string) (got, before, after time.Time, restamped bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if configs != nil || kadmTopicMissing(ctx, cl, topic) {
		if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, configs, topic); err != nil {
			t.Fatal(err)
		}
	}
	before = time.Now().Truncate(time.Millisecond)
	value := []byte(before.String())
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: value, Timestamp: old}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	after = time.Now()
	for {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		var mine *kgo.Record
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Value) == string(value) {
				mine = r
			}
		})
		if mine != nil {
			return mine.Timestamp, before, after, !mine.Timestamp.Equal(old)
		}
	}
}

func kadmTopicMissing(ctx context.Context, cl *kgo.Client, topic string) bool {
	td, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	return err != nil || !td.Has(topic)
}

// The embedded broker stamps records of a LogAppendTime topic with its
// clock, whatever the producer stamped, and leaves CreateTime topics alone;
// a topic altered to LogAppendTime (topology apply on an existing cluster)
// gets broker time from its next produce on.
func TestLogAppendTime(t *testing.T) {
	c := start(t, "")
	lat := "LogAppendTime"
	got, before, after, broker := stampAndRead(t, c.Brokers(), "broker-time", map[string]*string{timestampTypeKey: &lat})
	if !broker || got.Before(before) || got.After(after) {
		t.Errorf("LogAppendTime topic: read %v (restamped %v), want broker time within [%v, %v]", got, broker, before, after)
	}
	got, _, _, broker = stampAndRead(t, c.Brokers(), "client-time", map[string]*string{})
	if broker || !got.Equal(old) {
		t.Errorf("CreateTime topic: read %v (restamped %v), want the producer's %v", got, broker, old)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).AlterTopicConfigs(context.Background(),
		[]kadm.AlterConfig{{Op: kadm.SetConfig, Name: timestampTypeKey, Value: &lat}}, "client-time")
	if err == nil {
		err = resp[0].Err
	}
	if err != nil {
		t.Fatal(err)
	}
	got, before, after, broker = stampAndRead(t, c.Brokers(), "client-time", nil)
	if !broker || got.Before(before) || got.After(after) {
		t.Errorf("topic altered to LogAppendTime: read %v (restamped %v), want broker time within [%v, %v]", got, broker, before, after)
	}
}

// Twin: bare kfake, without honourLogAppendTime, keeps the producer's
// stamp in a LogAppendTime topic — the check above catches a broker that
// ignores the config.
func TestLogAppendTimeTwin(t *testing.T) {
	k, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	lat := "LogAppendTime"
	got, _, _, broker := stampAndRead(t, k.ListenAddrs(), "broker-time", map[string]*string{timestampTypeKey: &lat})
	if broker || !got.Equal(old) {
		t.Fatalf("bare kfake gave broker time (%v, %v): it honours LogAppendTime now and honourLogAppendTime can go", got, broker)
	}
}

// A compressed batch of records stamped seconds apart reads back with one
// broker time for all, in offset order.
func TestLogAppendTimeBatch(t *testing.T) {
	c := start(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...), kgo.ConsumeTopics("batch"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.ProducerBatchCompression(kgo.GzipCompression()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	lat := "LogAppendTime"
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, map[string]*string{timestampTypeKey: &lat}, "batch"); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Truncate(time.Millisecond)
	var rs []*kgo.Record
	for i := 0; i < 3; i++ {
		rs = append(rs, &kgo.Record{Topic: "batch", Value: []byte("same value compresses well, same value"), Timestamp: old.Add(time.Duration(i) * 5 * time.Second)})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	var got []*kgo.Record
	for len(got) < 3 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		got = append(got, fs.Records()...)
	}
	for i, r := range got {
		if r.Offset != int64(i) || r.Timestamp.Before(before) || r.Timestamp.After(after) || !r.Timestamp.Equal(got[0].Timestamp) {
			t.Errorf("record %d: offset %d time %v, want offset %d and one broker time within [%v, %v]", i, r.Offset, r.Timestamp, i, before, after)
		}
	}
}
