package metrics

import (
	"slices"
	"testing"
)

// deliverContract is docs/operations.md's delivery metrics: name → labels.
var deliverContract = map[string][]string{
	"provbus_deliver_attempts_total":         {"class", "handler", "outcome"},
	"provbus_deliver_latency_seconds":        {"handler"},
	"provbus_deliver_pending":                {"handler"},
	"provbus_deliver_oldest_pending_seconds": {"handler"},
	"provbus_deliver_circuit_open":           {"handler"},
	"provbus_deliver_paused":                 {"handler"},
}

func TestDeliverContract(t *testing.T) {
	p := New(nil)
	d := p.Deliver("IPTV")
	d.Attempt("retry", 503)
	d.Attempt("retry", 0)
	d.Latency.Observe(0.1)
	d.Pending.Set(3)
	d.Oldest.Set(10)
	d.Circuit.Set(1)
	d.Paused.Set(0)
	// A second call (another handler loop, a restart) shares the families.
	p.Deliver("IPTV").Attempt("delivered", 202)
	mfs, err := p.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, mf := range mfs {
		want, ok := deliverContract[mf.GetName()]
		if !ok {
			continue
		}
		seen[mf.GetName()] = len(mf.GetMetric())
		var got []string
		for _, l := range mf.GetMetric()[0].GetLabel() {
			got = append(got, l.GetName())
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s labels %v, want %v", mf.GetName(), got, want)
		}
	}
	for name := range deliverContract {
		if seen[name] == 0 {
			t.Errorf("%s not exported", name)
		}
	}
	if seen["provbus_deliver_attempts_total"] != 3 {
		t.Errorf("attempts series = %d, want 3 (retry/5xx, retry/none, delivered/2xx)", seen["provbus_deliver_attempts_total"])
	}
	var nilP *Pipeline
	nilP.Deliver("x").Attempt("retry", 500) // no-op, no panic
}
