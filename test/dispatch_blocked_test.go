package test

import (
	"context"
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/provbus/provbus/internal/metrics"
	"github.com/provbus/provbus/internal/stream"
	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/processors/dispatch"
	"github.com/provbus/provbus/schemas"
)

// The directory is stopped for twice the dispatcher's transaction timeout
// while an account fact and then several inherited events arrive in one
// poll: the dispatcher waits
// before its transaction begins (stream.Gate), so nothing is aborted, and
// once the directory is back every fan-out is complete, exactly once.
func TestDispatchDirectoryDown(t *testing.T) {
	t.Parallel()
	res := runDirectoryDown(t, dispatchGated)
	if res.aborts != 0 {
		t.Errorf("%d aborted or fenced dispatch transactions while the directory was down, want 0:\n%s", res.aborts, res.log)
	}
	if !res.blocked {
		t.Error("provbus_dispatch_blocked_since_seconds stayed 0 while the directory was down")
	}
}

// Negative twin: the same run with the gate switched off (the dispatcher
// can then only find out inside its transaction that the directory is not
// there) must count aborted transactions: the abort loop the gate removes.
func TestDispatchDirectoryDownTwin(t *testing.T) {
	t.Parallel()
	res := runDirectoryDown(t, dispatchUngated)
	if res.aborts == 0 {
		t.Fatal("no aborted transaction with the gate off: the abort counter cannot catch an abort loop")
	}
	t.Logf("gate off: %d aborted transactions while the directory was down (expected: the abort loop)", res.aborts)
}

type gateMode int

const (
	dispatchGated gateMode = iota
	dispatchUngated
)

// ungated hides the dispatcher's Ready from the runner.
type ungated struct{ d *dispatch.Dispatcher }

func (u ungated) Spec() stream.Spec { return u.d.Spec() }
func (u ungated) Process(ctx context.Context, in *stream.Record, out *stream.Output) error {
	return u.d.Process(ctx, in, out)
}

type downResult struct {
	aborts  int
	blocked bool
	log     string
}

func runDirectoryDown(t *testing.T, mode gateMode) downResult {
	const txnTimeout = 2 * time.Second
	c := startPCluster(t, 4)
	core, logs := observer.New(zapcore.WarnLevel)
	log := zap.New(core)
	m := metrics.New(nil)

	stopDir := c.runOne(t, directory.New(), zap.NewNop())
	d := dispatch.New(c.cat, log)
	var proc stream.Processor = d
	if mode == dispatchUngated {
		proc = ungated{d}
	}
	c.runOne(t, proc, log, stream.WithTransactionTimeout(txnTimeout), stream.WithMetrics(m))

	const customers = 3
	exp := newExpect()
	for cust := int64(1); cust <= customers; cust++ {
		c.send(directory.TopicAccounts, "i_account", accountNew(cust*10+1, cust, 1), accountNew(cust*10+2, cust, 1))
	}
	c.send(dispatch.TopicCustomer, "i_customer", customerEvent("warm-1", "Customer/Status/Suspend", 1))
	c.expectInherited(exp, "warm-1", "Customer/Status/Suspend", 11, 12)
	if got := c.readInherited(2, 500*time.Millisecond, 30*time.Second); len(got) != 2 {
		t.Fatalf("warm-up: %d inherited events, want 2", len(got))
	}

	stopDir()
	// A fact the directory has not read: every customer event logged
	// after it must wait for the directory (and then include account 13).
	c.send(directory.TopicAccounts, "i_account", accountNew(13, 1, 1))
	// One produce request, so the dispatcher's next poll holds them all.
	evs := c.customerEvents(customers)
	c.send(dispatch.TopicCustomer, "i_customer", evs...)
	for cust := int64(1); cust <= customers; cust++ {
		accounts := []int64{cust*10 + 1, cust*10 + 2}
		if cust == 1 {
			accounts = append(accounts, 13)
		}
		c.expectInherited(exp, fmt.Sprintf("down-%d", cust), "Customer/Status/Suspend", accounts...)
	}
	blocked := false
	for end := time.Now().Add(2 * txnTimeout); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		blocked = blocked || gaugeValue(m.DispatchBlockedSince()) > 0
	}
	aborts := countAborts(logs)

	c.runOne(t, directory.New(), zap.NewNop())
	got := c.readInherited(exp.len(), time.Second, 60*time.Second)
	if res := checkEO(exp, got); !res.ok() {
		t.Errorf("after the directory came back: fan-out not complete exactly once: %s", res)
	}
	return downResult{aborts: aborts, blocked: blocked, log: logText(logs)}
}

// customerEvents are Customer/Status/Suspend events down-1 … down-n for
// customers 1 … n.
func (c *pcluster) customerEvents(n int64) []*schemas.Event {
	out := make([]*schemas.Event, 0, n)
	for cust := int64(1); cust <= n; cust++ {
		out = append(out, customerEvent(fmt.Sprintf("down-%d", cust), "Customer/Status/Suspend", cust))
	}
	return out
}

func gaugeValue(g interface{ Write(*dto.Metric) error }) float64 {
	var v dto.Metric
	if err := g.Write(&v); err != nil {
		return 0
	}
	return v.GetGauge().GetValue()
}

// countAborts counts the runner's aborted and fenced transactions in logs.
func countAborts(logs *observer.ObservedLogs) int {
	return logs.FilterMessage("transaction aborted; retrying").Len() +
		logs.FilterMessageSnippet("fenced by a newer member").Len()
}

func logText(logs *observer.ObservedLogs) string {
	s := ""
	for _, e := range logs.All() {
		s += e.Message + fmt.Sprint(e.ContextMap()) + "\n"
	}
	return s
}
