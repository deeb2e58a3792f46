package metrics

import "testing"

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
	seen := checkContract(t, p, deliverContract)
	if seen["provbus_deliver_attempts_total"] != 3 {
		t.Errorf("attempts series = %d, want 3 (retry/5xx, retry/none, delivered/2xx)", seen["provbus_deliver_attempts_total"])
	}
	var nilP *Pipeline
	nilP.Deliver("x").Attempt("retry", 500) // no-op, no panic
}
