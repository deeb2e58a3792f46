package test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/processors/dispatch"
	"github.com/provbus/provbus/schemas"
)

// Three `provbus process` instances share the work; stopping one moves its
// partitions and state to the other two with no loss and no duplicate.
func TestProcessScaleOut(t *testing.T) {
	t.Parallel()
	c := startPCluster(t, 6)
	const customers, events = 200, 3000
	var accounts []*schemas.Event
	for cust := int64(1); cust <= customers; cust++ {
		accounts = append(accounts, accountNew(cust*100, cust, 1), accountNew(cust*100+1, cust, 1))
	}
	c.send(directory.TopicAccounts, "i_account", accounts...)
	args := []string{"--brokers", c.brokers, "--registry", c.emb.RegistryURL(), "--log-level", "warn",
		"process", "--metrics", "127.0.0.1:0", "--processors", "directory,dispatch", "--session-timeout", "2s"}
	ps := []*proc{startProvbus(t, args...), startProvbus(t, args...), startProvbus(t, args...)}

	expected := map[string]bool{}
	send := func(from, to int) {
		for i := from; i < to; i += 250 {
			var evs []*schemas.Event
			for j := i; j < min(i+250, to); j++ {
				cust := int64(j%customers) + 1
				id := fmt.Sprintf("scale-%d", j)
				evs = append(evs, customerEvent(id, "Customer/Status/Suspend", cust))
				expected[dispatch.EventID(id, cust*100, "Account/Status/Suspend")] = true
				expected[dispatch.EventID(id, cust*100+1, "Account/Status/Suspend")] = true
			}
			c.send(dispatch.TopicCustomer, "i_customer", evs...)
			time.Sleep(20 * time.Millisecond)
		}
	}
	send(0, events/2)
	time.Sleep(2 * time.Second)
	if err := ps[1].stop(syscall.SIGTERM, 30*time.Second); err != nil {
		t.Logf("stopped instance exit: %v", err)
	}
	t.Logf("stopped one of three instances after %d events", events/2)
	send(events/2, events)

	got := c.readInherited(len(expected), 5*time.Second, 120*time.Second)
	dups, distinct := dupCount(got)
	missing := 0
	seen := map[string]bool{}
	for _, e := range got {
		seen[e.ev.EventID] = true
	}
	for id := range expected {
		if !seen[id] {
			missing++
		}
	}
	t.Logf("expected %d, read %d, distinct %d, duplicates %d, missing %d", len(expected), len(got), distinct, dups, missing)
	if dups != 0 || missing != 0 || distinct != len(expected) {
		t.Fatal("scale-out lost or duplicated events")
	}
}
