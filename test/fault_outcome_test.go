package test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/provbus/provbus/internal/stream"
	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/processors/dispatch"
	"github.com/provbus/provbus/schemas"
)

// outcomeHits is how many requests of each kind are answered
// REQUEST_TIMED_OUT after the broker applied them.
const outcomeHits = 6

// endTxnAfterApply makes the next n EndTxn requests of transactional ids
// starting with prefix outcome-unknown: kfake's Fault rejects EndTxn
// before applying it (a real broker cannot time one out after the fact in
// its model), so the control forwards the request on its own connection,
// lets the broker commit, and answers the client REQUEST_TIMED_OUT. The
// client must retry and be told the commit already happened.
func endTxnAfterApply(t *testing.T, kf *kfake.Cluster, brokers []string, prefix string, n int32) *atomic.Int32 {
	fwd, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fwd.Close)
	var hits atomic.Int32
	var forwarding atomic.Bool
	kf.ControlKey(int16(kmsg.EndTxn), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		kf.KeepControl()
		req := kr.(*kmsg.EndTxnRequest)
		if forwarding.Load() || !strings.HasPrefix(req.TransactionalID, prefix) || hits.Load() >= n {
			return nil, nil, false
		}
		forwarding.Store(true)
		var resp kmsg.Response
		var ferr error
		kf.SleepControl(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, ferr = fwd.Request(ctx, req)
		})
		forwarding.Store(false)
		if ferr != nil || resp.(*kmsg.EndTxnResponse).ErrorCode != 0 {
			return resp, ferr, true // pass the real answer on
		}
		hits.Add(1)
		out := req.ResponseKind().(*kmsg.EndTxnResponse)
		out.ErrorCode = kerr.RequestTimedOut.Code
		return out, nil, true
	})
	return &hits
}

// runOutcome runs the directory and the dispatchers in this process on an
// embedded cluster whose Produce, TxnOffsetCommit and EndTxn answers are
// lost after the broker applied them, and returns the checker's count,
// the hits per fault and how long the output took to complete after the
// last input.
func runOutcome(t *testing.T, twin bool) (res eoResult, hits [3]int, caughtUp time.Duration) {
	c := startPCluster(t, 3)
	const customers, events = 50, 600
	var accounts []*schemas.Event
	for cust := int64(1); cust <= customers; cust++ {
		accounts = append(accounts, accountNew(cust*100, cust, 1), accountNew(cust*100+1, cust, 1))
	}
	c.send(directory.TopicAccounts, "i_account", accounts...)

	kf := c.emb.Kafka()
	produce := kf.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: dispatch.TopicInherited,
		Err: kerr.RequestTimedOut, Count: outcomeHits})
	offsets := kf.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Group: dispatch.Group,
		Err: kerr.RequestTimedOut, Count: outcomeHits})
	ends := endTxnAfterApply(t, kf, c.emb.Brokers(), dispatch.Group, outcomeHits)

	var opts []stream.Option
	if twin {
		// Idempotence off: a retried produce whose first attempt was
		// applied is written twice.
		opts = append(opts, stream.WithMode(stream.AtLeastOnce), stream.WithKafka(kgo.DisableIdempotentWrite()))
	}
	c.runInProcess(t, opts...)

	exp := newExpect()
	var last time.Time
	// Ten spaced chunks: each is at least one transaction, so each fault
	// has its budget's worth of requests to hit.
	const chunks = 12
	for k := 0; k < chunks; k++ {
		var evs []*schemas.Event
		for j := k * events / chunks; j < (k+1)*events/chunks; j++ {
			cust := int64(j%customers) + 1
			id := fmt.Sprintf("ou-%d", j)
			evs = append(evs, customerEvent(id, "Customer/Status/Suspend", cust))
			for _, a := range []int64{cust * 100, cust*100 + 1} {
				child := dispatch.EventID(id, a, "Account/Status/Suspend")
				exp.add(dispatch.TopicInherited, laneOf(dispatch.TopicInherited, itoa(a), schemas.OriginInherited), child)
			}
		}
		c.send(dispatch.TopicCustomer, "i_customer", evs...)
		last = time.Now()
		time.Sleep(400 * time.Millisecond)
	}
	got, err := readOut(c.emb.Brokers(), c.codec, []string{dispatch.TopicInherited}, exp.len(), 3*time.Second, 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// The reader stops settle after the last new record: count up to the
	// time the output was complete.
	caughtUp = time.Since(last) - 3*time.Second
	return checkEO(exp, got), [3]int{produce.Hits(), offsets.Hits(), int(ends.Load())}, caughtUp
}

// Issue 8 #3: REQUEST_TIMED_OUT after apply on Produce, TxnOffsetCommit
// and EndTxn: no loss, no duplicate, and progress resumes within 30 s.
func TestFaultOutcomeUnknown(t *testing.T) {
	t.Parallel()
	res, hits, caught := runOutcome(t, false)
	report(t, fmt.Sprintf("REQUEST_TIMED_OUT after apply: Produce %d, TxnOffsetCommit %d, EndTxn %d hits", hits[0], hits[1], hits[2]),
		fmt.Sprintf("%s; complete %.1fs after the last input", res, caught.Seconds()))
	for i, what := range []string{"Produce", "TxnOffsetCommit", "EndTxn"} {
		if hits[i] < 5 {
			t.Errorf("%s fault hit %d times, want ≥ 5", what, hits[i])
		}
	}
	if !res.ok() {
		t.Errorf("exactly-once violated: %s", res)
	}
	if caught > 30*time.Second {
		t.Errorf("output complete %v after the last input, want ≤ 30s", caught)
	}
}

// The twin: transactions and idempotence off, the timed-out produces are
// written twice and the checker must count it.
func TestFaultOutcomeUnknownTwin(t *testing.T) {
	t.Parallel()
	res, hits, _ := runOutcome(t, true)
	report(t, fmt.Sprintf("same faults, transactions and idempotence OFF (Produce hits %d)", hits[0]), res.String())
	if res.dups == 0 {
		t.Fatalf("idempotence off yet no duplicate counted (%s)", res)
	}
}
