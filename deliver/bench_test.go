package deliver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/provbus/provbus/deliver/enrich"
	"github.com/provbus/provbus/internal/cputime"
	"github.com/provbus/provbus/internal/embedded/embeddedtest"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// Run with: go test -run '^$' -bench Deliver -benchtime 1x ./deliver/
// (each benchmark sizes its own run; b.N is not used). With -cpuprofile,
// each side's own goroutines carry the label side=deliver or side=bare
// (go tool pprof -tagfocus side=deliver), the target's target=deliver or
// target=bare; the embedded broker's carry none.

const benchEvents, benchKeys = 20_000, 2_000

// countingTarget answers 204 and counts requests; at records, per event,
// the time it arrived.
type countingTarget struct {
	n    atomic.Int64
	done chan struct{}
	want int64
	// first and last are the arrival times (Unix ns) of the first and of
	// the want-th request: the steady-state window, without start-up.
	first, last atomic.Int64
}

func (c *countingTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.first.CompareAndSwap(0, time.Now().UnixNano())
	io.Copy(io.Discard, r.Body)
	w.WriteHeader(204)
	if c.n.Add(1) == c.want {
		c.last.Store(time.Now().UnixNano())
		close(c.done)
	}
}

// steadyRate is the requests/s between the first and the want-th request.
func (c *countingTarget) steadyRate() float64 {
	return float64(c.want-1) / (time.Duration(c.last.Load() - c.first.Load())).Seconds()
}

func benchProduce(b *testing.B, c *embeddedtest.Cluster, n int) {
	var recs []*kgo.Record
	for i := range n {
		acc := int64(i % benchKeys)
		ev := &schemas.Event{EventID: fmt.Sprint("b-", i), Source: "portabilling", EventType: "Account/Status/Changed", Origin: schemas.OriginDirect,
			IAccount: &acc, OccurredAt: time.Now(), ReceivedAt: time.Now(), Attributes: map[string]string{"i_account": fmt.Sprint(acc)}, Payload: `{"i_account":1}`}
		rec, err := records.Event(c.Codec, topology.HandlerTopic(testHandler), fmt.Sprint(acc), ev)
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, rec)
	}
	if err := c.Client.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
}

// benchAccounts makes every benchmark key an account the state table
// knows: an Account/New with its customer and product, then a block.
func benchAccounts(b *testing.B, c *embeddedtest.Cluster) {
	c.Create(b, 6, enrich.Topics()...)
	c.Use(b, "portabilling.account")
	var recs []*kgo.Record
	cust, prod := int64(5), int64(3)
	for i := range benchKeys {
		acc := int64(i)
		for j, typ := range []string{"Account/New", "Account/Blocked"} {
			ev := &schemas.Event{EventID: fmt.Sprint("acc-", i, "-", j), Source: "portabilling", EventType: typ, Origin: schemas.OriginDirect,
				IAccount: &acc, ICustomer: &cust, IProduct: &prod, OccurredAt: time.Now(), ReceivedAt: time.Now(), Payload: `{}`}
			rec, err := records.Event(c.Codec, "portabilling.account", fmt.Sprint(acc), ev)
			if err != nil {
				b.Fatal(err)
			}
			recs = append(recs, rec)
		}
	}
	if err := c.Client.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
}

func benchCluster(b *testing.B) *embeddedtest.Cluster {
	c := embeddedtest.Start(b, 6)
	c.Create(b, 6, topology.HandlerTopic(testHandler), topology.TopicDeliveries, topology.TopicDeliverState,
		topology.TopicDeliverFailed, topology.TopicDeliverControl, topology.TopicDLQ)
	c.Use(b, topology.HandlerTopic(testHandler))
	return c
}

// BenchmarkDeliverThroughput: deliveries/s of provbus deliver to a fast
// local target, against a bare kgo → net/http loop with the same number of
// requests in flight (no order, no state, no history) on the same cluster.
// The side that runs second finds a bigger heap (the broker keeps every
// record) and runs 2–3 % slower for it, so the sides take turns going
// first: odd runs deliver first, even runs bare first; take -count even.
// "state" runs with include_state on (the default), every account known
// to the state table; "nostate" with it off.
func BenchmarkDeliverThroughput(b *testing.B) {
	b.Run("state", func(b *testing.B) { benchThroughput(b, true) })
	b.Run("nostate", func(b *testing.B) { benchThroughput(b, false) })
}

func benchThroughput(b *testing.B, withState bool) {
	c := benchCluster(b)
	if withState {
		benchAccounts(b, c)
	}
	benchProduce(b, c, benchEvents)

	var deliverRate, bareRate float64
	var tg, bare *countingTarget
	runDeliver := func() {
		tg = &countingTarget{done: make(chan struct{}), want: benchEvents}
		srv := labelledServer("deliver", tg)
		defer srv.Close()
		h := fastHandler(srv.URL)
		h.MaxInFlight, h.IncludeState = 16, withState
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		m := measure(b, "deliver", func() {
			go pprof.Do(ctx, pprof.Labels("side", "deliver"), func(ctx context.Context) {
				errc <- Run(ctx, Options{Kafka: []kgo.Opt{kgo.SeedBrokers(c.Brokers()...)}, Codec: c.Codec, Log: zap.NewNop()}, []Handler{h})
			})
			<-tg.done
		})
		deliverRate = benchEvents / m.Seconds()
		cancel()
		<-errc
	}
	runBare := func() {
		bare = &countingTarget{done: make(chan struct{}), want: benchEvents}
		bsrv := labelledServer("bare", bare)
		defer bsrv.Close()
		m := measure(b, "bare", func() {
			pprof.Do(context.Background(), pprof.Labels("side", "bare"), func(context.Context) { bareLoop(b, c, bsrv.URL, 16, bare.done) })
		})
		bareRate = benchEvents / m.Seconds()
	}
	if throughputRuns.Add(1)%2 == 1 {
		runDeliver()
		runBare()
	} else {
		runBare()
		runDeliver()
	}

	b.ReportMetric(deliverRate, "deliveries/s")
	b.ReportMetric(bareRate, "bare-deliveries/s")
	b.ReportMetric(deliverRate/bareRate, "ratio")
	// The same, from each side's first request to its last: start-up
	// (group join, state restore) left out.
	b.ReportMetric(tg.steadyRate(), "steady-deliveries/s")
	b.ReportMetric(bare.steadyRate(), "steady-bare/s")
	b.ReportMetric(tg.steadyRate()/bare.steadyRate(), "steady-ratio")
}

// throughputRuns counts BenchmarkDeliverThroughput's runs in this process.
var throughputRuns atomic.Int32

// measure runs fn, reports its allocations and CPU per event under side's
// name, and returns how long it took.
func measure(b *testing.B, side string, fn func()) time.Duration {
	start := time.Now()
	cpu0 := cputime.Process()
	mallocs0, bytes0 := mallocs()
	fn()
	took := time.Since(start)
	mallocs1, bytes1 := mallocs()
	b.ReportMetric(float64(mallocs1-mallocs0)/benchEvents, side+"-allocs/event")
	b.ReportMetric(float64(bytes1-bytes0)/benchEvents, side+"-B/event")
	b.ReportMetric(float64((cputime.Process()-cpu0).Microseconds())/benchEvents, side+"-cpu-µs/event")
	return took
}

// labelledServer starts a target whose goroutines carry the profile label
// target=side, so that each side's share of the target's CPU shows apart.
func labelledServer(side string, h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	pprof.Do(context.Background(), pprof.Labels("target", side), func(context.Context) { srv.Start() })
	return srv
}

// bareLoop consumes the handler topic and POSTs every record's value with
// workers requests in flight, until done.
func bareLoop(b *testing.B, c *embeddedtest.Cluster, url string, workers int, done chan struct{}) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...), kgo.ConsumerGroup("bare-bench"), kgo.ConsumeTopics(topology.HandlerTopic(testHandler)),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	work := make(chan *kgo.Record, 1000)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range work {
				resp, err := hc.Post(url, "application/json", bytes.NewReader(r.Value))
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-done; cancel() }()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { work <- r })
	}
	close(work)
	wg.Wait()
}

// BenchmarkDeliverLatency: handler record written → connector received,
// at 1 000 events/s for 10 s; p50 and p99.
func BenchmarkDeliverLatency(b *testing.B) {
	c := benchCluster(b)
	const rate, secs = 1000, 10
	var mu sync.Mutex
	var lat []time.Duration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		var sent int64
		fmt.Sscan(r.Header.Get("X-Bench-Sent"), &sent)
		w.WriteHeader(204)
	}))
	defer srv.Close()
	// The body carries occurred_at; the record's produce time is in the
	// event id, so the target reads it back from the body's event_id.
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		i := bytes.Index(body, []byte(`"event_id":"t-`))
		if i >= 0 {
			var ns int64
			fmt.Sscan(string(body[i+len(`"event_id":"t-`):]), &ns)
			mu.Lock()
			lat = append(lat, time.Since(time.Unix(0, ns)))
			mu.Unlock()
		}
		w.WriteHeader(204)
	})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Options{Kafka: []kgo.Opt{kgo.SeedBrokers(c.Brokers()...)}, Codec: c.Codec, Log: zap.NewNop()}, []Handler{fastHandler(srv.URL)})
	}()
	time.Sleep(2 * time.Second) // the group is joined before the clock starts
	tick := time.NewTicker(time.Second / 100)
	defer tick.Stop()
	produced := 0
	for produced < rate*secs {
		<-tick.C
		var recs []*kgo.Record
		for range rate / 100 {
			acc := int64(produced % benchKeys)
			ev := &schemas.Event{EventID: fmt.Sprintf("t-%d", time.Now().UnixNano()), Source: "portabilling", EventType: "Account/Status/Changed",
				Origin: schemas.OriginDirect, IAccount: &acc, OccurredAt: time.Now(), ReceivedAt: time.Now(), Payload: `{}`}
			rec, err := records.Event(c.Codec, topology.HandlerTopic(testHandler), fmt.Sprint(acc), ev)
			if err != nil {
				b.Fatal(err)
			}
			recs = append(recs, rec)
			produced++
		}
		for _, r := range recs {
			c.Client.Produce(ctx, r, nil)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(lat)
		mu.Unlock()
		if n >= produced {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-errc
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	if len(lat) < produced {
		b.Fatalf("%d of %d delivered", len(lat), produced)
	}
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// mallocs is the number of heap objects and bytes allocated so far (both
// sides, the target and the embedded broker included).
func mallocs() (objects, bytes uint64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs, ms.TotalAlloc
}
