package deliver

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/provbus/provbus/deliver/order"
	"github.com/provbus/provbus/deliver/target"
	"github.com/provbus/provbus/internal/embedded/embeddedtest"
	"github.com/provbus/provbus/internal/metrics"
)

// gate is a target that holds every request until released, and counts
// how many it holds at once and in all.
type gate struct {
	release chan struct{}
	once    sync.Once
	now     atomic.Int32
	most    atomic.Int32
	total   atomic.Int32
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	n := g.now.Add(1)
	for m := g.most.Load(); n > m && !g.most.CompareAndSwap(m, n); m = g.most.Load() {
	}
	g.total.Add(1)
	<-g.release
	g.now.Add(-1)
	w.WriteHeader(204)
}

// open lets every request through from now on.
func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

// gatedRun produces perKey events for each of keys keys on partitions
// partitions and runs deliver, max_in_flight n, against a gate.
func gatedRun(t *testing.T, partitions int32, keys, perKey, n int, m *metrics.Pipeline) (*gate, *embeddedtest.Cluster) {
	c := cluster(t, partitions)
	g := &gate{release: make(chan struct{})}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	produceEvents(t, c, keys, perKey)
	h := fastHandler(srv.URL)
	h.MaxInFlight = n
	runMetered(t, c, h, m)
	t.Cleanup(g.open) // runs before run's clean-up stops deliver: senders wait on it
	return g, c
}

// TestMaxInFlightBoundsRequests: the events waiting for a sender (the send
// queue) never make more than max_in_flight requests at once, and the bound
// is reached.
func TestMaxInFlightBoundsRequests(t *testing.T) {
	g, _ := gatedRun(t, 3, 40, 2, 3, nil)
	// Let requests through one at a time, slowly enough that every sender
	// and the queue behind them are full each time.
	waitFor(t, "the first requests", 20*time.Second, func() bool { return g.now.Load() >= 3 })
	for g.total.Load() < 80 {
		select {
		case g.release <- struct{}{}:
		case <-time.After(20 * time.Second):
			t.Fatalf("stuck after %d requests", g.total.Load())
		}
		time.Sleep(2 * time.Millisecond)
	}
	g.open()
	if m := g.most.Load(); m != 3 {
		t.Fatalf("at most %d requests at once, want max_in_flight = 3", m)
	}
}

// TestPauseTakesBackQueuedEvents: events handed to the send queue but not
// sent when a pause arrives stay unsent until resume.
func TestPauseTakesBackQueuedEvents(t *testing.T) {
	m := metrics.New(nil)
	g, c := gatedRun(t, 2, 20, 1, 2, m)
	waitFor(t, "two requests held", 20*time.Second, func() bool { return g.now.Load() == 2 })
	time.Sleep(100 * time.Millisecond) // the queue behind them fills
	if err := admin(c).SetPaused(context.Background(), testHandler, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the instance to follow the pause", 20*time.Second, func() bool {
		var v dto.Metric
		m.Deliver(testHandler).Paused.Write(&v)
		return v.GetGauge().GetValue() == 1
	})
	g.open() // the two in flight end; nothing may follow them
	time.Sleep(time.Second)
	if n := g.total.Load(); n != 2 {
		t.Fatalf("%d requests arrived, want the 2 in flight at the pause", n)
	}
	if err := admin(c).SetPaused(context.Background(), testHandler, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every event after resume", 20*time.Second, func() bool { return g.total.Load() == 20 })
}

// TestReclaimGivesTheProbeBack: a half-open breaker's probe taken back
// from the send queue (a pause came first) is given back to the breaker:
// else the breaker waits for its result for ever and the handler never
// sends again.
func TestReclaimGivesTheProbeBack(t *testing.T) {
	brk := target.NewBreaker()
	brk.Threshold = 1
	t0 := time.Now()
	brk.Record(false, t0) // open
	r := &handlerRun{work: make(chan job, 1), sched: order.New(2), brk: brk}
	r.sched.Add(&order.Entry{Partition: 0, Offset: 0, Key: "k"})
	later := t0.Add(time.Hour)
	if ok, _ := brk.Allow(later); !ok {
		t.Fatal("no probe after the cool-down")
	}
	probe := r.sched.Due(later, 1)[0]
	r.probe = probe
	r.dispatch(probe)
	r.reclaim()
	if ok, _ := brk.Allow(later); !ok {
		t.Fatal("the breaker still waits for the probe taken back")
	}
	if due := r.sched.Due(later, 1); len(due) != 1 || due[0] != probe || probe.Attempt != 1 {
		t.Fatalf("due after reclaim: %v (attempt %d)", due, probe.Attempt)
	}
}
