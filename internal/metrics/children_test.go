package metrics

import "testing"

// The ingest looks counters up per request: a cached label set must cost
// no allocation.
func TestCachedLookupsDoNotAllocate(t *testing.T) {
	p := New(nil)
	p.IngestEvent("portabilling", "Account/New", "accepted").Inc()
	p.Produced("portabilling.account").Inc()
	p.IngestRequest("portabilling", 200).Inc()
	if n := testing.AllocsPerRun(1000, func() {
		p.IngestEvent("portabilling", "Account/New", "accepted").Inc()
		p.Produced("portabilling.account").Inc()
		p.IngestRequest("portabilling", 200).Inc()
	}); n != 0 {
		t.Fatalf("%v allocations per cached lookup", n)
	}
}
