package subscribe

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/embedded/embeddedtest"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
)

// env is one embedded cluster with a handler topic and its parking topic.
type env struct {
	cfg     Config
	handler string
	topic   string
	cl      *kgo.Client
	adm     *kadm.Client
	codec   *schemas.Codec
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := embeddedtest.Start(t, 0)
	e := &env{handler: fmt.Sprintf("Test::H%d", rand.IntN(1e6)), cl: c.Client, adm: c.Admin, codec: c.Codec}
	e.topic = Topic(e.handler)
	e.cfg = Config{Brokers: c.Brokers(), RegistryURL: c.RegistryURL(), Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxAttempts: 3}
	c.Create(t, 3, e.topic, ParkingTopic(e.handler))
	c.Use(t, e.topic)
	return e
}

// produce writes one event per (account, n) to the handler topic, keyed by
// account, with event id "<account>-<n>".
func (e *env) produce(t *testing.T, accounts []int64, perAccount int) {
	t.Helper()
	var rs []*kgo.Record
	for n := 0; n < perAccount; n++ {
		for _, a := range accounts {
			a := a
			ev := &schemas.Event{EventID: fmt.Sprintf("%d-%d", a, n), Source: "portabilling", EventType: "Account/Status/Changed",
				Origin: schemas.OriginDirect, IAccount: &a, OccurredAt: time.Now(), ReceivedAt: time.Now(), Attributes: map[string]string{}, Payload: "{}"}
			r, err := records.Event(e.codec, e.topic, strconv.FormatInt(a, 10), ev)
			if err != nil {
				t.Fatal(err)
			}
			rs = append(rs, r)
		}
	}
	if err := e.cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// parked returns the event ids in the parking topic.
func (e *env) parked(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ends, err := e.adm.ListEndOffsets(ctx, ParkingTopic(e.handler))
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total == 0 {
		return nil
	}
	cl, _ := kgo.NewClient(kgo.SeedBrokers(e.cfg.Brokers...), kgo.ConsumeTopics(ParkingTopic(e.handler)), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	var ids []string
	for int64(len(ids)) < total {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("parking: read %d of %d", len(ids), total)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var ev schemas.Event
			if _, err := e.codec.Decode(ctx, r.Value, &ev); err != nil {
				t.Errorf("parked record does not decode: %v", err)
			}
			if reason, _ := records.Header(r, records.HeaderDLQReason); reason != ReasonHandlerFailed {
				t.Errorf("reason header %q", reason)
			}
			ids = append(ids, ev.EventID)
		})
	}
	return ids
}

// lag returns how many records of the handler topic the group has not
// committed.
func (e *env) lag(t *testing.T, group string) int64 {
	t.Helper()
	ctx := context.Background()
	ends, err := e.adm.ListEndOffsets(ctx, e.topic)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := e.adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		committed, err = nil, nil // nothing committed yet
	}
	if err != nil {
		t.Fatal(err)
	}
	var lag int64
	ends.Each(func(o kadm.ListedOffset) {
		c, _ := committed.Lookup(o.Topic, o.Partition)
		lag += o.Offset - max(c.At, 0)
	})
	return lag
}

// TestRetryParkAndNoBlocking: account 13 always fails and is parked after
// MaxAttempts; every other account's events are all handled, in order, one
// of them after two transient failures; at the end everything is committed.
func TestRetryParkAndNoBlocking(t *testing.T) {
	e := newEnv(t)
	accounts := []int64{11, 12, 13, 14, 15, 16}
	e.produce(t, accounts, 4)

	var mu sync.Mutex
	calls := map[string]int{}
	handled := map[string]int{} // account → next expected n
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, e.cfg, e.handler, func(_ context.Context, ev Event) error {
			mu.Lock()
			defer mu.Unlock()
			calls[ev.EventID]++
			if ev.Attempt != calls[ev.EventID] {
				t.Errorf("%s: Attempt %d on call %d", ev.EventID, ev.Attempt, calls[ev.EventID])
			}
			switch {
			case ev.Key == "13":
				return errors.New("target rejects account 13")
			case ev.EventID == "12-1" && ev.Attempt < 3:
				return errors.New("transient")
			}
			if want := fmt.Sprintf("%s-%d", ev.Key, handled[ev.Key]); ev.EventID != want {
				t.Errorf("out of order: got %s, want %s", ev.EventID, want)
			}
			handled[ev.Key]++
			return nil
		})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for e.lag(t, e.cfg.withDefaults(e.handler).Group) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("lag %d after 20s", e.lag(t, e.cfg.withDefaults(e.handler).Group))
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, a := range accounts {
		k := strconv.FormatInt(a, 10)
		if want := 4; a != 13 && handled[k] != want {
			t.Errorf("account %s: %d handled, want %d", k, handled[k], want)
		}
	}
	if calls["12-1"] != 3 || calls["13-0"] != 3 {
		t.Errorf("calls: 12-1 %d (want 3), 13-0 %d (want 3)", calls["12-1"], calls["13-0"])
	}
	if got := e.parked(t); len(got) != 4 {
		t.Errorf("parked %v, want account 13's four events", got)
	}
}

// TestCommitOnlyAfterSuccess: the function stops the service while
// handling the third event of a partition; a restart sees that event again
// and nothing before it.
func TestCommitOnlyAfterSuccess(t *testing.T) {
	e := newEnv(t)
	e.produce(t, []int64{7}, 5) // one key: one partition, in order
	ctx, cancel := context.WithCancel(context.Background())
	err := Run(ctx, e.cfg, e.handler, func(ctx context.Context, ev Event) error {
		if ev.EventID == "7-2" {
			cancel() // the service is stopped mid-event
			return ctx.Err()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if lag := e.lag(t, e.cfg.withDefaults(e.handler).Group); lag != 3 {
		t.Fatalf("lag %d after stopping on the third of five, want 3", lag)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	var seen []string
	err = Run(ctx, e.cfg, e.handler, func(_ context.Context, ev Event) error {
		seen = append(seen, ev.EventID)
		if len(seen) == 3 {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seen) != "[7-2 7-3 7-4]" {
		t.Errorf("after restart saw %v, want [7-2 7-3 7-4]", seen)
	}
	if got := e.parked(t); len(got) != 0 {
		t.Errorf("parked %v on shutdown", got)
	}
}
