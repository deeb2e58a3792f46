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

	exp := newExpect()
	send := func(from, to int) {
		for i := from; i < to; i += 250 {
			var evs []*schemas.Event
			for j := i; j < min(i+250, to); j++ {
				cust := int64(j%customers) + 1
				id := fmt.Sprintf("scale-%d", j)
				evs = append(evs, customerEvent(id, "Customer/Status/Suspend", cust))
				c.expectInherited(exp, id, "Customer/Status/Suspend", cust*100, cust*100+1)
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

	got := c.readInherited(exp.len(), 5*time.Second, 120*time.Second)
	res := checkEO(exp, got)
	t.Logf("injected: 1 of 3 instances stopped (SIGTERM) after %d of %d events; counted: %s", events/2, events, res)
	if !res.ok() {
		t.Fatalf("scale-out lost, duplicated or reordered events: %s; %s", res, dupSample(got, 5))
	}
}
