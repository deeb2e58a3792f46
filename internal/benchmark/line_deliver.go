package benchmark

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/provbus/provbus/internal/simulate"
	"github.com/provbus/provbus/producers/ingest"
	"github.com/provbus/provbus/producers/transatel"
	"github.com/provbus/provbus/schemas"
)

// lineDeliver sends the realistic mix at cfg.DeliverRate through the whole
// pipeline, `provbus deliver` included, to a connector that answers at
// once, and measures webhook → connector: from the ingest's 2xx for an
// event (for an inherited event, for its parent) to the arrival of each
// request it caused. The baseline is line 4's (the bare handler feeding one
// bare copy stage) with a bare consumer POSTing its output.
func lineDeliver(ctx context.Context, cfg Config, w Wiring) ([]Row, error) {
	if w.Deliver == nil {
		return nil, errors.New("the wiring has no Deliver")
	}
	pb, err := deliverOnce(ctx, cfg, w, false)
	if err != nil {
		return nil, err
	}
	bare, err := deliverOnce(ctx, cfg, w, true)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	step := fmt.Sprintf("7. webhook → connector at %.0f ev/s, ESPF %d/request", cfg.DeliverRate, latencyBatch)
	b := bare.direct
	rows := latencyRows(step, "DIRECT", pb.direct, b, "",
		fmt.Sprintf("%d requests to the connector from direct events (baseline %d), %d handlers; from the ingest's 2xx to the request's arrival",
			pb.direct.n, b.n, pb.handlers))
	if pb.inherited.n > 0 {
		rows = append(rows, latencyRows(step, "INHERITED", pb.inherited, b, "",
			fmt.Sprintf("%d requests from inherited events, timed from their parent's 2xx; baseline: the bare path, which has no inheritance",
				pb.inherited.n))...)
	}
	return rows, nil
}

// delivered is one side's result.
type delivered struct {
	direct, inherited latency
	handlers          int
}

func deliverOnce(ctx context.Context, cfg Config, w Wiring, bare bool) (delivered, error) {
	p, err := startE2E(ctx, cfg, w, bare)
	if err != nil {
		return delivered{}, err
	}
	defer p.close()
	conn := &connector{}
	target := httptest.NewServer(conn)
	defer target.Close()

	dctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	var res delivered
	if bare {
		go func() { done <- barePost(dctx, p.c, p.out[0], target.URL) }()
	} else {
		urls := map[string]string{}
		for _, h := range cfg.Catalog.Handlers() {
			if h.Topic != "" {
				urls[h.Name] = target.URL + "/" + h.Topic
			}
		}
		res.handlers = len(urls)
		go func() { done <- w.Deliver(dctx, p.c.brokers, p.c.regURL, urls) }()
	}
	defer func() {
		cancel()
		<-done
	}()
	failed := func() error {
		select {
		case err := <-done:
			done <- err // for the deferred wait
			if err == nil || errors.Is(err, context.Canceled) {
				return errors.New("delivery stopped early")
			}
			return fmt.Errorf("delivery: %w", err)
		default:
			return nil
		}
	}

	acks := &ackTimes{next: p.h, at: map[string]time.Time{}}
	url, stop, err := serve(acks)
	if err != nil {
		return delivered{}, err
	}
	defer stop()
	_, err = drive(ctx, cfg, url, cfg.DeliverRate, cfg.DeliverDuration, simulate.Config{Seed: 700}, func() error {
		// The delivery has joined and sent before the clocks start.
		if err := conn.first(ctx, 20*time.Second); err != nil {
			return err
		}
		acks.armed.Store(true)
		return failed()
	})
	if err != nil {
		return delivered{}, err
	}
	// Every request the run caused has had its final answer once every
	// group (processors, delivery) has committed its inputs to the end.
	if err := p.c.waitDrained(ctx, time.Minute); err != nil {
		return delivered{}, err
	}
	if err := failed(); err != nil {
		return delivered{}, err
	}
	acked := acks.times()
	direct, inherited := conn.latencies(acked)
	res.direct, res.inherited = summarize(direct), summarize(inherited)
	fmt.Fprintf(cfg.Log, "bench:   %d events acknowledged in the measured run; connector: %d requests, %d timed (%d direct, %d inherited)\n",
		len(acked), conn.n.Load(), len(direct)+len(inherited), len(direct), len(inherited))
	if res.direct.n == 0 {
		return delivered{}, errors.New("no request of the measured run reached the connector")
	}
	return res, nil
}

// ackTimes wraps an ingest and records, once armed, when it answered 2xx
// for each event id: the instant the sender knows the event is accepted,
// which the line measures from. The ids are those of the answer
// ({"event_ids": …}, the ingest's and the bare handler's) or, for a 204
// to Transatel (which wants no body), of the request parsed as the ingest
// parses it.
type ackTimes struct {
	next  http.Handler
	armed atomic.Bool
	mu    sync.Mutex
	at    map[string]time.Time
}

func (a *ackTimes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !a.armed.Load() {
		a.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	cw := &captureWriter{ResponseWriter: w, status: http.StatusOK}
	a.next.ServeHTTP(cw, r)
	now := time.Now()
	if cw.status/100 != 2 {
		return
	}
	var ids []string
	if cw.status == http.StatusNoContent && strings.Contains(r.URL.Path, "/"+simulate.Transatel+"/") {
		evs, err := transatel.Parse(body, now)
		if err != nil {
			return
		}
		for _, ev := range evs {
			ids = append(ids, ev.EventID)
		}
	} else {
		var acc ingest.Accepted
		if json.Unmarshal(cw.body.Bytes(), &acc) != nil {
			return
		}
		ids = acc.EventIDs
	}
	a.mu.Lock()
	for _, id := range ids {
		if _, seen := a.at[id]; !seen { // a sender's retry: the first 2xx counts
			a.at[id] = now
		}
	}
	a.mu.Unlock()
}

// times stops the recording and returns what it holds.
func (a *ackTimes) times() map[string]time.Time {
	a.armed.Store(false)
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.at)
}

// captureWriter keeps the status and a copy of the body it passes on.
type captureWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *captureWriter) WriteHeader(code int) {
	c.status = code
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}

// connector is every handler's HTTP target: it answers 204 at once and
// records, per request, when it arrived, its webhook-id and, for an
// inherited event, its parent's id.
type connector struct {
	n    atomic.Int64
	last atomic.Int64 // unix ns of the latest request
	mu   sync.Mutex
	hits []hit
}

type hit struct {
	at        time.Time
	id        string
	parent    string
	inherited bool
}

func (c *connector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	var b struct {
		Origin        string  `json:"origin"`
		ParentEventID *string `json:"parent_event_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h := hit{at: at, id: r.Header.Get("webhook-id"), inherited: b.Origin == schemas.OriginInherited}
	if b.ParentEventID != nil {
		h.parent = *b.ParentEventID
	}
	c.mu.Lock()
	c.hits = append(c.hits, h)
	c.mu.Unlock()
	c.n.Add(1)
	c.last.Store(at.UnixNano())
	w.WriteHeader(http.StatusNoContent)
}

// first waits for the first request.
func (c *connector) first(ctx context.Context, limit time.Duration) error {
	err := pollUntil(ctx, limit, 50*time.Millisecond, func() bool { return c.n.Load() > 0 })
	if errors.Is(err, errPollTimeout) {
		return fmt.Errorf("no request reached the connector in the warm-up and %s after", limit)
	}
	return err
}

// latencies matches each request with the 2xx of the event that caused it
// (an inherited event's parent) and returns arrival − 2xx in microseconds;
// requests of warm-up events, whose 2xx was not recorded, are left out.
func (c *connector) latencies(acked map[string]time.Time) (direct, inherited []uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range c.hits {
		id := h.id
		if h.inherited {
			id = h.parent
		}
		t, ok := acked[id]
		if !ok {
			continue
		}
		us := uint32(max(h.at.Sub(t).Microseconds(), 0))
		if h.inherited {
			inherited = append(inherited, us)
		} else {
			direct = append(direct, us)
		}
	}
	return direct, inherited
}
