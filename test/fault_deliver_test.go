package test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/provbus/provbus/deliver/webhook"
	"github.com/provbus/provbus/internal/embedded"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// The delivery fault test: `provbus deliver` pushes a handler topic to a
// real HTTP target that injects 5xx bursts, timeouts, 429 with
// Retry-After, permanent 422s, keys failing for a long while and a target
// that is down (connection refused), and the process is SIGKILLed in the
// middle of retries. checkDelivery then holds the run to at-least-once:
// every event reaches a final outcome, none is lost, per-key order holds.

const (
	dlvHandler = "IPTV"
	dlvSecret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
)

type dlvPlan struct {
	keys, perKey int
	kills        int
	hotFor       time.Duration // hot keys fail (503) this long after the start
	downFrom     time.Duration // the target is down (connection refused) …
	downFor      time.Duration // … for this long
	noRestore    bool          // the negative twin: state restore off
}

func defaultDlvPlan() dlvPlan {
	if long() {
		return dlvPlan{keys: 2000, perKey: 10, kills: 5, hotFor: time.Minute, downFrom: 5 * time.Second, downFor: 2 * time.Minute}
	}
	return dlvPlan{keys: 200, perKey: 5, kills: 2, hotFor: 6 * time.Second, downFrom: 2 * time.Second, downFor: 2 * time.Second}
}

// dlvTarget is the connector under faults. It records every request and
// the first final answer (2xx or 422) of every event.
type dlvTarget struct {
	start time.Time
	plan  dlvPlan
	key   []byte

	mu       sync.Mutex
	final    map[string]bool // event id → answered 2xx or 422
	prefix   map[string]int  // key → events 0..prefix-1 all final
	finals   map[string]map[int]bool
	requests int
	repeats  int // requests for an event already final
	badOrder []string
	badSig   int
	ids      map[string]string // event id → the webhook-id it was sent with
	badID    int
}

func newDlvTarget(plan dlvPlan) *dlvTarget {
	key, _ := webhook.ParseSecret(dlvSecret)
	return &dlvTarget{start: time.Now(), plan: plan, key: key, final: map[string]bool{}, prefix: map[string]int{},
		finals: map[string]map[int]bool{}, ids: map[string]string{}}
}

// fault decides the answer to one attempt, from the event id and time.
func (d *dlvTarget) fault(id, key string, attempt int) (status int, retryAfter string, stall bool) {
	h := fnv.New32a()
	h.Write([]byte(id))
	k, _ := strconv.Atoi(key)
	switch {
	case k%50 == 0 && time.Since(d.start) < d.plan.hotFor:
		return 503, "", false // a key failing for a long while
	}
	switch h.Sum32() % 20 {
	case 0:
		return 422, "", false // permanent
	case 1, 2:
		if attempt <= 3 {
			return 503, "", false
		}
	case 3:
		if attempt == 1 {
			return 429, "1", false
		}
	case 4:
		if attempt == 1 {
			return 0, "", true // a timeout
		}
	}
	return 202, "", false
}

func (d *dlvTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts, _ := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64)
	var b struct {
		EventID    string            `json:"event_id"`
		Key        string            `json:"key"`
		Attempt    int               `json:"attempt"`
		Attributes map[string]string `json:"attributes"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		w.WriteHeader(400)
		return
	}
	seq, _ := strconv.Atoi(b.Attributes["seq"])
	status, retryAfter, stall := d.fault(b.EventID, b.Key, b.Attempt)
	d.mu.Lock()
	d.requests++
	if webhook.Verify(d.key, r.Header.Get(webhook.HeaderID), ts, body, r.Header.Get(webhook.HeaderSignature)) != nil {
		d.badSig++
	}
	if r.Header.Get(webhook.HeaderID) != b.EventID {
		d.badID++
	}
	if d.final[b.EventID] {
		d.repeats++
	} else if seq > d.prefix[b.Key] {
		// Sent while an earlier event of its key has no final outcome.
		d.badOrder = append(d.badOrder, fmt.Sprintf("%s sent before key %s's event %d was final", b.EventID, b.Key, d.prefix[b.Key]))
	}
	if !stall && (status < 300 || status == 422) && !d.final[b.EventID] {
		d.final[b.EventID] = true
		if d.finals[b.Key] == nil {
			d.finals[b.Key] = map[int]bool{}
		}
		d.finals[b.Key][seq] = true
		for d.finals[b.Key][d.prefix[b.Key]] {
			d.prefix[b.Key]++
		}
	}
	d.mu.Unlock()
	if stall {
		time.Sleep(time.Second) // past the handler's 300 ms timeout
		w.WriteHeader(202)
		return
	}
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.WriteHeader(status)
}

// dlvResult is what checkDelivery counted.
type dlvResult struct {
	events, final, lost, badOrder, badSig, badID, requests, repeats int
}

func (r dlvResult) String() string {
	return fmt.Sprintf("%d events, %d final, %d lost, %d order violations, %d bad signatures, %d bad webhook-ids, %d requests, %d repeats of final events",
		r.events, r.final, r.lost, r.badOrder, r.badSig, r.badID, r.requests, r.repeats)
}

func (r dlvResult) ok() bool {
	return r.lost == 0 && r.badOrder == 0 && r.badSig == 0 && r.badID == 0
}

// checkDelivery is the at-least-once checker: every produced event must
// have a final answer at the target, and per-key order must have held.
func checkDelivery(d *dlvTarget, ids []string) dlvResult {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := dlvResult{events: len(ids), badOrder: len(d.badOrder), badSig: d.badSig, badID: d.badID, requests: d.requests, repeats: d.repeats}
	for _, id := range ids {
		if d.final[id] {
			r.final++
		} else {
			r.lost++
		}
	}
	return r
}

// switchable serves a handler on a fixed address that can be taken down
// (connection refused) and brought back.
type switchable struct {
	addr string
	h    http.Handler
	mu   sync.Mutex
	srv  *http.Server
}

func (s *switchable) up(t *testing.T) {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s.h}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go srv.Serve(ln)
}

func (s *switchable) down() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.Close()
		s.srv = nil
	}
}

func runDeliverFaults(t *testing.T, plan dlvPlan) dlvResult {
	ctx := context.Background()
	emb, err := embedded.Start(ctx, embedded.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Broker: true, Registry: true, Partitions: 6})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	cl, err := kgo.NewClient(kgo.SeedBrokers(emb.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	compact := "compact"
	// The account topics feed the bodies' state (include_state defaults to true).
	for _, tp := range []string{topology.HandlerTopic(dlvHandler), topology.TopicDeliveries, topology.TopicDLQ,
		"portabilling.account", topology.TopicAccountInherited} {
		if _, err := adm.CreateTopic(ctx, 6, 1, nil, tp); err != nil {
			t.Fatal(err)
		}
	}
	for _, tp := range []string{topology.TopicDeliverState, topology.TopicDeliverFailed, topology.TopicDeliverControl, topology.TopicDirectoryAccounts} {
		if _, err := adm.CreateTopic(ctx, 6, 1, map[string]*string{"cleanup.policy": &compact}, tp); err != nil {
			t.Fatal(err)
		}
	}
	reg, err := sr.NewClient(sr.URLs(emb.RegistryURL()))
	if err != nil {
		t.Fatal(err)
	}
	codec := schemas.NewCodec(reg)
	topic := topology.HandlerTopic(dlvHandler)
	if err := records.Use(ctx, codec, topic); err != nil {
		t.Fatal(err)
	}

	target := newDlvTarget(plan)
	sw := &switchable{addr: freeAddr(t), h: target}
	sw.up(t)
	defer sw.down()

	cfg := filepath.Join(t.TempDir(), "provbus.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
topics: {partitions: 6}
deliver:
  handlers:
    %s:
      url: http://%s/events
      signing_secret: %s
      timeout: 300ms
      max_in_flight: 16
      retry:
        schedule: {initial: 50ms, max_interval: 400ms, attempts: 8}
        long: [1s]
        max_age: 10m
        max_retry_after: 2s
`, dlvHandler, sw.addr, dlvSecret)), 0o600)
	metricsAddr := freeAddr(t)
	args := []string{"--brokers", strings.Join(emb.Brokers(), ","), "--registry", emb.RegistryURL(), "--config", cfg, "--log-level", "warn",
		"deliver", "--metrics", metricsAddr, "--session-timeout", "3s"}
	if plan.noRestore {
		args = append(args, "--no-restore")
	}

	var ids []string
	var recs []*kgo.Record
	for i := 0; i < plan.perKey; i++ {
		for k := 0; k < plan.keys; k++ {
			acc := int64(k)
			id := fmt.Sprintf("f-%d-%d", k, i)
			ids = append(ids, id)
			ev := &schemas.Event{EventID: id, Source: "portabilling", EventType: "Account/Status/Changed", Origin: schemas.OriginDirect,
				IAccount: &acc, OccurredAt: time.Now(), ReceivedAt: time.Now(), Attributes: map[string]string{"seq": strconv.Itoa(i)}, Payload: `{}`}
			rec, err := records.Event(codec, topic, strconv.Itoa(k), ev)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, rec)
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	target.start = time.Now()
	p := startProvbus(t, args...)

	// The target goes down for a while, then comes back.
	go func() {
		time.Sleep(plan.downFrom)
		sw.down()
		time.Sleep(plan.downFor)
		sw.up(t)
	}()
	// Each kill waits until retries are pending (the state topic grew since
	// the last start), so it lands in the middle of them.
	stateEnd := func() int64 {
		ends, err := adm.ListEndOffsets(ctx, topology.TopicDeliverState)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}
	for k := 0; k < plan.kills; k++ {
		before := stateEnd()
		deadline := time.Now().Add(60 * time.Second)
		for stateEnd() < before+20 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // let commits pass the stored events
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		t.Logf("kill %d/%d: SIGKILL with %d state writes so far", k+1, plan.kills, stateEnd())
		p = startProvbus(t, args...)
	}
	restarted := time.Now()

	// The end: every event final (the guarantee), or — for the twin,
	// where some never will be — the group caught up (lag 0) and the
	// instance holding nothing pending, as its own metrics say.
	deadline := time.Now().Add(3 * time.Minute)
	if long() {
		deadline = time.Now().Add(10 * time.Minute)
	}
	for time.Now().Before(deadline) {
		if r := checkDelivery(target, ids); r.lost == 0 {
			break
		}
		if time.Since(restarted) > 2*time.Second && time.Since(target.start) > plan.hotFor+plan.downFrom+plan.downFor &&
			caughtUp(t, adm, topic) && scrapeGauge(metricsAddr, "provbus_deliver_pending") == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := p.stop(syscall.SIGTERM, 30*time.Second); err != nil {
		t.Logf("provbus deliver exit: %v", err)
	}
	return checkDelivery(target, ids)
}

// caughtUp reports whether the delivery group committed every partition of
// topic to its end.
func caughtUp(t *testing.T, adm *kadm.Client, topic string) bool {
	group := topology.DeliverGroup(dlvHandler)
	lags, err := adm.Lag(context.Background(), group)
	if err != nil {
		return false
	}
	gl, ok := lags[group]
	if !ok || gl.Error() != nil {
		return false
	}
	l, ok := gl.Lag.TotalByTopic()[topic]
	return ok && l.Lag == 0
}

// scrapeGauge reads one unlabelled-or-single-series gauge from /metrics
// (-1 when it cannot).
func scrapeGauge(addr, name string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// TestFaultDeliver: under target faults and SIGKILLs mid-retry, every
// event reaches a final outcome, none is lost, per-key order holds, and
// every request is signed with webhook-id = event_id.
func TestFaultDeliver(t *testing.T) {
	plan := defaultDlvPlan()
	res := runDeliverFaults(t, plan)
	report(t, fmt.Sprintf("%d keys × %d events; 5xx bursts, 429 Retry-After, timeouts, 422s, hot keys failing %s, target down %s; %d SIGKILLs mid-retry",
		plan.keys, plan.perKey, plan.hotFor, plan.downFor, plan.kills), res.String())
	if !res.ok() {
		t.Errorf("delivery under faults: %s", res)
	}
}

// TestFaultDeliverTwin is the checker's negative twin: with state restore
// switched off (--no-restore), the events waiting in provbus.deliver.state
// at a SIGKILL are never sent again, and checkDelivery must count them
// lost.
func TestFaultDeliverTwin(t *testing.T) {
	plan := defaultDlvPlan()
	plan.noRestore = true
	res := runDeliverFaults(t, plan)
	report(t, fmt.Sprintf("as TestFaultDeliver, state restore OFF; %d SIGKILLs", plan.kills), res.String())
	if res.lost == 0 {
		t.Errorf("the checker saw no loss with state restore off: %s", res)
	}
}
