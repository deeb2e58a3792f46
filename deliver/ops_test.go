package deliver

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/embedded/embeddedtest"
	"github.com/provbus/provbus/internal/metrics"
)

func admin(c *embeddedtest.Cluster) Admin {
	return Admin{Kafka: []kgo.Opt{kgo.SeedBrokers(c.Brokers()...)}, Codec: c.Codec, By: "test"}
}

// idRecorder counts the requests per webhook-id before rc answers them.
func idRecorder(rc *receiver, mu *sync.Mutex, ids map[string]int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ids[r.Header.Get("webhook-id")]++
		mu.Unlock()
		rc.ServeHTTP(w, r)
	})
}

// A key failing at length does not hold back the others: 10 000 keys are
// delivered while one key keeps failing, then that key catches up in order.
func TestFailingKeyDoesNotDelayTenThousandOthers(t *testing.T) {
	c := cluster(t, 4)
	var hotOK atomic.Bool
	rc := &receiver{seen: map[string][]int{}, fail: func(key string, seq, attempt int) int {
		if key == "1" && !hotOK.Load() {
			return 503
		}
		return 202
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	const others = 10_000
	produceKeyed(t, c, "1", 5)
	produceEvents(t, c, others+1, 1) // keys 1..10001, key 1 gets one more
	h := fastHandler(srv.URL)
	h.MaxInFlight = 64
	run(t, c, h)
	waitFor(t, "10 000 other keys delivered", 90*time.Second, func() bool { k, _ := rc.delivered(); return k >= others })
	rc.mu.Lock()
	hot := len(rc.seen["1"])
	rc.mu.Unlock()
	if hot != 0 {
		t.Fatalf("the failing key was delivered %d times", hot)
	}
	hotOK.Store(true)
	waitFor(t, "the failing key caught up", 30*time.Second, func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return len(rc.seen["1"]) >= 6
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if got := fmt.Sprint(rc.seen["1"]); got != "[0 1 2 3 4 0]" {
		t.Fatalf("failing key delivered %s, want its six events in topic order", got)
	}
}

// Pause holds every event (the flag is read before anything is fetched);
// resume delivers them in order.
func TestPauseHoldsResumeKeepsOrder(t *testing.T) {
	c := cluster(t, 2)
	rc := &receiver{seen: map[string][]int{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	a := admin(c)
	if err := a.SetPaused(context.Background(), testHandler, true); err != nil {
		t.Fatal(err)
	}
	produceEvents(t, c, 5, 10)
	run(t, c, fastHandler(srv.URL))
	waitStatus(t, a, func(s Status) bool { return s.Paused })
	time.Sleep(time.Second) // an observation window: nothing may arrive in it
	if _, n := rc.delivered(); n != 0 {
		t.Fatalf("paused handler delivered %d events", n)
	}
	if err := a.SetPaused(context.Background(), testHandler, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery after resume", 20*time.Second, func() bool { _, n := rc.delivered(); return n >= 50 })
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for k, seqs := range rc.seen {
		if fmt.Sprint(seqs) != "[0 1 2 3 4 5 6 7 8 9]" {
			t.Fatalf("key %s after resume: %v", k, seqs)
		}
	}
}

func waitStatus(t *testing.T, a Admin, ok func(Status) bool) Status {
	t.Helper()
	var st Status
	waitFor(t, "status", 20*time.Second, func() bool {
		s, err := a.Status(context.Background(), []string{testHandler}, time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		st = s[0]
		return ok(st)
	})
	return st
}

// A permanent failure is recorded failed and skipped; redrive sends it
// again with the same webhook-id.
func TestRedriveResendsWithSameID(t *testing.T) {
	c := cluster(t, 2)
	var fixed atomic.Bool
	var mu sync.Mutex
	ids := map[string]int{}
	rc := &receiver{seen: map[string][]int{}, fail: func(key string, seq, attempt int) int {
		if key == "3" && seq == 1 && !fixed.Load() {
			return 422
		}
		return 202
	}}
	srv := httptest.NewServer(idRecorder(rc, &mu, ids))
	defer srv.Close()
	produceEvents(t, c, 4, 3)
	run(t, c, fastHandler(srv.URL))
	a := admin(c)
	waitStatus(t, a, func(s Status) bool { return s.Failed == 1 && s.Delivered == 11 })
	fixed.Store(true)
	acc := int64(3)
	n, err := a.Redrive(context.Background(), testHandler, RedriveFilter{Account: &acc})
	if err != nil || n != 1 {
		t.Fatalf("Redrive = %d, %v", n, err)
	}
	waitFor(t, "the redriven event", 20*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return ids["e-3-1"] == 2 })
	waitStatus(t, a, func(s Status) bool { return s.Failed == 0 && s.Delivered == 12 })
	// The history of key 3: e-3-1 failed, then was delivered by the redrive.
	var outcomes []string
	for p := int32(0); p < 2; p++ {
		atts, err := a.Attempts(context.Background(), "3", p, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range atts {
			if d.EventID == "e-3-1" {
				outcomes = append(outcomes, fmt.Sprintf("%d:%s", d.StatusCode, d.Outcome))
			}
		}
	}
	if fmt.Sprint(outcomes) != "[422:failed 202:delivered]" {
		t.Fatalf("attempts of e-3-1: %v", outcomes)
	}
}

// on_permanent_failure=block holds the key (and only it) until unblock.
func TestBlockHoldsKeyUntilUnblock(t *testing.T) {
	c := cluster(t, 2)
	var fixed atomic.Bool
	rc := &receiver{seen: map[string][]int{}, fail: func(key string, seq, attempt int) int {
		if key == "2" && seq == 0 && !fixed.Load() {
			return 409
		}
		return 202
	}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	produceEvents(t, c, 3, 4)
	h := fastHandler(srv.URL)
	h.Block = true
	run(t, c, h)
	a := admin(c)
	st := waitStatus(t, a, func(s Status) bool { return s.Blocked == 1 && s.Delivered == 8 && s.Queued == 3 })
	if fmt.Sprint(st.BlockedKeys) != "[2]" || !strings.Contains(st.LastError, "409") {
		t.Fatalf("status names blocked keys %v, last error %q; want [2] and the 409", st.BlockedKeys, st.LastError)
	}
	fixed.Store(true)
	row, err := a.Unblock(context.Background(), testHandler, "2")
	if err != nil || row.EventID != "e-2-0" {
		t.Fatalf("Unblock = %+v, %v", row, err)
	}
	waitFor(t, "the unblocked key", 20*time.Second, func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return len(rc.seen["2"]) == 4
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if got := fmt.Sprint(rc.seen["2"]); got != "[0 1 2 3]" {
		t.Fatalf("unblocked key got %s", got)
	}
}

// A pause during delivery: the instance follows the flag (its paused
// gauge), nothing is sent after that, and resume delivers in order.
func TestPauseMidRun(t *testing.T) {
	c := cluster(t, 2)
	rc := &receiver{seen: map[string][]int{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	produceEvents(t, c, 4, 5)
	m := metrics.New(nil)
	runMetered(t, c, fastHandler(srv.URL), m)
	waitFor(t, "the first events", 20*time.Second, func() bool { _, n := rc.delivered(); return n >= 20 })
	a := admin(c)
	if err := a.SetPaused(context.Background(), testHandler, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the instance to follow the pause", 20*time.Second, func() bool {
		var g dto.Metric
		m.Deliver(testHandler).Paused.Write(&g)
		return g.GetGauge().GetValue() == 1
	})
	produceKeyed(t, c, "1", 3)
	time.Sleep(time.Second) // an observation window: nothing may arrive in it
	if _, n := rc.delivered(); n != 20 {
		t.Fatalf("delivered %d while paused, want 20", n)
	}
	if err := a.SetPaused(context.Background(), testHandler, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery after resume", 20*time.Second, func() bool { _, n := rc.delivered(); return n >= 23 })
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if got := fmt.Sprint(rc.seen["1"]); got != "[0 1 2 3 4 0 1 2]" {
		t.Fatalf("key 1 got %s", got)
	}
}
