package test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/producers/ingest"
	"github.com/provbus/provbus/schemas"
)

// sender posts Account/New events, one id per request and each id once,
// until stopped, and sorts the ids by answer.
type sender struct {
	mu            sync.Mutex
	acked, failed map[string]bool
	unavailable   int // 503s
	retryAfter    map[string]int
	stop          atomic.Bool
	done          chan struct{}
}

func startSender(t *testing.T, base, prefix string) *sender {
	s := &sender{acked: map[string]bool{}, failed: map[string]bool{}, retryAfter: map[string]int{}, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for i := 0; !s.stop.Load(); i++ {
			id := fmt.Sprintf("%s-%d", prefix, i)
			code, hdr, _, err := post(base, "portabilling", espf("Account/New", id, fmt.Sprintf(`"i_account":%d`, i)))
			s.mu.Lock()
			switch {
			case err == nil && code/100 == 2:
				s.acked[id] = true
			default:
				s.failed[id] = true
				if code == 503 {
					s.unavailable++
					s.retryAfter[hdr.Get("Retry-After")]++
				}
			}
			s.mu.Unlock()
			if err != nil {
				time.Sleep(50 * time.Millisecond) // the ingest itself is fine; avoid a spin
			}
		}
	}()
	return s
}

func (s *sender) finish() { s.stop.Store(true); <-s.done }

// verdict compares the sender's answers with the ids in Kafka: every 2xx
// exactly once, every other id absent or once.
func (s *sender) verdict(inKafka map[string]int) (lost, dupAcked, dupFailed int) {
	for id := range s.acked {
		switch n := inKafka[id]; {
		case n == 0:
			lost++
		case n > 1:
			dupAcked++
		}
	}
	for id := range s.failed {
		if inKafka[id] > 1 {
			dupFailed++
		}
	}
	return
}

func brokerKills() int {
	if long() {
		return 5
	}
	return 2
}

// Issue 8 #2: the broker process (`provbus dev --components
// broker,registry`, DataDir) is SIGKILLed while an HTTP sender posts to a
// separate `provbus ingest`: every 2xx'd event is in Kafka exactly once,
// every other one absent or once.
func TestFaultBrokerCrash(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, 1, "")
	_, base := p.startIngest("--insecure-no-auth")
	s := startSender(t, base, "bk")
	kills := brokerKills()
	for k := 0; k < kills; k++ {
		time.Sleep(3 * time.Second)
		p.killBroker()
		time.Sleep(time.Second)
		p.startBroker()
	}
	time.Sleep(3 * time.Second)
	s.finish()
	got := p.read([]string{"portabilling.account"}, len(s.acked), 3*time.Second, 60*time.Second)
	lost, dupA, dupF := s.verdict(ids(got))
	report(t, fmt.Sprintf("%d SIGKILLs of the broker process during HTTP ingest", kills),
		fmt.Sprintf("%d acked, %d not (%d 503), %d records read; %d acked lost, %d acked duplicated, %d unacked duplicated",
			len(s.acked), len(s.failed), s.unavailable, len(got), lost, dupA, dupF))
	if len(s.acked) == 0 || lost != 0 || dupA != 0 || dupF != 0 {
		t.Errorf("broker crash: %d lost, %d duplicated, %d unacked duplicated (acked %d)", lost, dupA, dupF, len(s.acked))
	}
}

// The twin: the same HTTP sender and verdict, through the ingest path
// (ingest.New, the handler `provbus ingest` serves) with the producer's
// idempotence switched off, on a broker whose produce answers are lost
// after it applied them (kfake REQUEST_TIMED_OUT after apply, in-process:
// the broker process of the run above offers no such lever). The ingest's
// retries are written twice and the verdict must count them.
func TestFaultBrokerCrashTwin(t *testing.T) {
	t.Parallel()
	c := startPCluster(t, 1)
	fault := c.emb.Kafka().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: directory.TopicAccounts, Err: kerr.RequestTimedOut, Count: 5})
	srv, err := ingest.New(context.Background(), ingest.WithKafka(kgo.SeedBrokers(c.emb.Brokers()...), kgo.DisableIdempotentWrite()),
		ingest.WithRegistry(c.reg), ingest.WithCatalog(c.cat),
		ingest.WithSources(config.Sources{PortaBilling: config.SourcePolicy{Insecure: true}}))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	s := &sender{acked: map[string]bool{}, failed: map[string]bool{}}
	for i := 0; i < 20; i++ {
		id := fmt.Sprintf("tw-%d", i)
		code, _, _, err := post(hs.URL, "portabilling", espf("Account/New", id, fmt.Sprintf(`"i_account":%d`, i)))
		if err == nil && code/100 == 2 {
			s.acked[id] = true
		} else {
			s.failed[id] = true
		}
	}
	got := c.readTopic(directory.TopicAccounts, c.outputEndOf(directory.TopicAccounts))
	_, dupA, dupF := s.verdict(ids(got))
	report(t, fmt.Sprintf("ingest path (HTTP → ingest handler → Kafka), idempotence OFF, %d produce answers lost after apply", fault.Hits()),
		fmt.Sprintf("%d acked, %d acked duplicated, %d unacked duplicated", len(s.acked), dupA, dupF))
	if dupA+dupF == 0 {
		t.Fatalf("idempotence off and retried produces, yet no duplicate counted")
	}
}

// readTopic reads the first n records of topic (its end offset: an ingest
// topic holds records only, no transaction markers), decoded.
func (c *pcluster) readTopic(topic string, n int64) []outRec {
	c.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.emb.Brokers()...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []outRec
	for int64(len(out)) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			c.t.Fatalf("read %d of %d records of %s", len(out), n, topic)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var ev schemas.Event
			if _, err := c.codec.Decode(ctx, r.Value, &ev); err != nil {
				c.t.Errorf("decode %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
			}
			out = append(out, outRec{topic: r.Topic, partition: r.Partition, offset: r.Offset, key: string(r.Key), ev: ev})
		})
	}
	return out
}

// Issue 8 #9: while produce fails (the broker process paused), the ingest
// answers 503 with Retry-After, and every id that got a 2xx is in Kafka.
func TestFaultAckUnderOutage(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, 1, "")
	reg, err := sr.NewClient(sr.URLs(p.registry))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ingest.New(context.Background(), ingest.WithKafka(kgo.SeedBrokers(p.brokers)), ingest.WithRegistry(reg),
		ingest.WithCatalog(p.cat), ingest.WithProduceTimeout(time.Second), ingest.WithRetryAfter(3*time.Second),
		ingest.WithSources(config.Sources{PortaBilling: config.SourcePolicy{Insecure: true}}))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	s := startSender(t, hs.URL, "out")
	time.Sleep(time.Second)
	p.devProc.cmd.Process.Signal(syscall.SIGSTOP)
	time.Sleep(4 * time.Second)
	p.devProc.cmd.Process.Signal(syscall.SIGCONT)
	time.Sleep(3 * time.Second)
	s.finish()
	got := p.read([]string{"portabilling.account"}, len(s.acked), 3*time.Second, 60*time.Second)
	lost, dupA, _ := s.verdict(ids(got))
	report(t, "broker process paused (SIGSTOP) 4 s during HTTP ingest, produce timeout 1 s",
		fmt.Sprintf("%d acked, %d refused with 503 (Retry-After %v), %d acked missing from Kafka, %d acked duplicated",
			len(s.acked), s.unavailable, s.retryAfter, lost, dupA))
	if s.unavailable == 0 || s.retryAfter["3"] != s.unavailable {
		t.Errorf("want 503s with Retry-After 3 during the outage, got %d (%v)", s.unavailable, s.retryAfter)
	}
	if lost != 0 {
		t.Errorf("%d ids got a 2xx but are not in Kafka", lost)
	}
}

// outputEndOf is the sum of topic's end offsets on the in-process cluster.
func (c *pcluster) outputEndOf(topic string) int64 {
	c.t.Helper()
	ends, err := kadm.NewClient(c.cl).ListEndOffsets(context.Background(), topic)
	if err != nil {
		c.t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}
