package stream_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/provbus/provbus/internal/stream"
	"github.com/provbus/provbus/schemas"
)

// restoreCounter counts the changelog records its table applied and
// reports that count when it processes its first input: what the
// processor's state held when work started.
type restoreCounter struct {
	applied atomic.Int64
	first   chan int64
}

func (p *restoreCounter) Spec() stream.Spec {
	return stream.Spec{Group: "test-restore", Inputs: []stream.Input{{Topic: "in", Raw: true}},
		Tables: []stream.Table{{Changelog: "state",
			Apply: func(int32, *kgo.Record) error { p.applied.Add(1); return nil },
			Drop:  func(int32) {}}}}
}

func (p *restoreCounter) Process(context.Context, *stream.Record, *stream.Output) error {
	select {
	case p.first <- p.applied.Load():
	default:
	}
	return nil
}

const restoreRecords = 100

// slowChangelog starts a cluster whose changelog "state" holds
// restoreRecords records (committed in transactions, as processors write
// them) and whose fetches of it are each delayed by delay().
func slowChangelog(t *testing.T, delay func() time.Duration) (brokers []string, codec *schemas.Codec, delayed *atomic.Int32) {
	t.Helper()
	emb, cl, codec := setup(t, map[string]int32{"in": 3, "state": 3, schemas.DLQTopic: 1})
	ctx := context.Background()
	txn, err := kgo.NewClient(kgo.SeedBrokers(emb.Brokers()...), kgo.TransactionalID("test-writer"))
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	for b := 0; b < 4; b++ {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := b * restoreRecords / 4; i < (b+1)*restoreRecords/4; i++ {
			txn.Produce(ctx, &kgo.Record{Topic: "state", Key: []byte(strconv.Itoa(i)), Value: []byte("v")}, nil)
		}
		if err := txn.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := txn.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "in", Value: []byte("go")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	md, err := kadm.NewClient(cl).Metadata(ctx, "state")
	if err != nil {
		t.Fatal(err)
	}
	stateID := md.Topics["state"].ID
	delayed = new(atomic.Int32)
	kf := emb.Kafka()
	kf.ControlKey(int16(kmsg.Fetch), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		kf.KeepControl()
		for _, tp := range kr.(*kmsg.FetchRequest).Topics {
			if tp.Topic == "state" || tp.TopicID == stateID {
				delayed.Add(1)
				d := delay()
				kf.SleepControl(func() { time.Sleep(d) })
				break
			}
		}
		return nil, nil, false
	})
	return emb.Brokers(), codec, delayed
}

func oneToThreeSeconds() time.Duration { return time.Second + rand.N(2*time.Second) }

// Issue 18 #1: every changelog fetch delayed 1–3 s; the restore still
// reads every record before the processor takes its first input.
func TestRestoreReadsToTheEndUnderSlowFetches(t *testing.T) {
	t.Parallel()
	brokers, codec, delayed := slowChangelog(t, oneToThreeSeconds)
	p := &restoreCounter{first: make(chan int64, 1)}
	r, err := stream.New(p, stream.WithKafka(kgo.SeedBrokers(brokers...)), stream.WithCodec(codec))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	select {
	case n := <-p.first:
		t.Logf("state held %d of %d changelog records at the first input; %d changelog fetches delayed 1–3 s", n, restoreRecords, delayed.Load())
		if n != restoreRecords {
			t.Fatalf("processing started on partial state: %d of %d changelog records applied", n, restoreRecords)
		}
		if delayed.Load() == 0 {
			t.Fatal("no changelog fetch was delayed: the test did not test anything")
		}
	case err := <-done:
		t.Fatalf("Run ended before processing: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("no input processed within 2 minutes")
	}
}

// The twin: the rule the runner had before (stop when one poll returns
// nothing for 750 ms), reimplemented here, loses records under the same
// delays, and the same count shows it.
func TestRestoreQuietPeriodRuleLosesRecordsTwin(t *testing.T) {
	t.Parallel()
	brokers, _, _ := slowChangelog(t, oneToThreeSeconds)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("state"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	applied := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 750*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		if fs.NumRecords() == 0 {
			break // "it went quiet"
		}
		applied += fs.NumRecords()
	}
	t.Logf("quiet-period rule: %d of %d changelog records applied", applied, restoreRecords)
	if applied == restoreRecords {
		t.Fatal("the quiet-period rule read everything under 1–3 s fetch delays: the slow-fetch test cannot tell the rules apart")
	}
}

// Past the restore timeout the runner fails, naming the partitions that
// did not reach their end, and never processes an input.
func TestRestoreFailsLoudlyPastItsDeadline(t *testing.T) {
	t.Parallel()
	brokers, codec, _ := slowChangelog(t, func() time.Duration { return 5 * time.Second })
	p := &restoreCounter{first: make(chan int64, 1)}
	r, err := stream.New(p, stream.WithKafka(kgo.SeedBrokers(brokers...)), stream.WithCodec(codec),
		stream.WithRestoreTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = r.Run(ctx)
	if !errors.Is(err, stream.ErrRestoreIncomplete) {
		t.Fatalf("Run = %v, want ErrRestoreIncomplete", err)
	}
	if !strings.Contains(err.Error(), "state/") {
		t.Errorf("the error does not name the changelog partition: %v", err)
	}
	select {
	case n := <-p.first:
		t.Fatalf("an input was processed on partial state (%d records applied)", n)
	default:
	}
	t.Log(err)
}

// A changelog fetch refused for good (not authorised) fails the restore at
// once with Kafka's error, instead of retrying it until the deadline.
func TestRestoreFailsFastOnAFatalFetchError(t *testing.T) {
	t.Parallel()
	emb, cl, codec := setup(t, map[string]int32{"in": 3, "state": 3, schemas.DLQTopic: 1})
	ctx := context.Background()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "state", Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	md, err := kadm.NewClient(cl).Metadata(ctx, "state")
	if err != nil {
		t.Fatal(err)
	}
	stateID := md.Topics["state"].ID
	kf := emb.Kafka()
	kf.ControlKey(int16(kmsg.Fetch), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		kf.KeepControl()
		req := kr.(*kmsg.FetchRequest)
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		for _, tp := range req.Topics {
			if tp.Topic != "state" && tp.TopicID != stateID {
				return nil, nil, false
			}
			rt := kmsg.NewFetchResponseTopic()
			rt.Topic, rt.TopicID = tp.Topic, tp.TopicID
			for _, p := range tp.Partitions {
				rp := kmsg.NewFetchResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	p := &restoreCounter{first: make(chan int64, 1)}
	r, err := stream.New(p, stream.WithKafka(kgo.SeedBrokers(emb.Brokers()...)), stream.WithCodec(codec),
		stream.WithRestoreTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	err = r.Run(rctx)
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("Run = %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if errors.Is(err, stream.ErrRestoreIncomplete) {
		t.Fatalf("the restore waited for its deadline instead of failing at once: %v", err)
	}
}
