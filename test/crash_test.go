package test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/processors/dispatch"
	"github.com/provbus/provbus/schemas"
)

// crashPlan sizes a crash run: events customer events flow while the
// processor process is SIGKILLed kills times.
type crashPlan struct {
	customers, accountsPer, events, kills int
	atLeastOnce                           bool
}

func defaultCrashPlan() crashPlan {
	if long() {
		return crashPlan{customers: 1000, accountsPer: 1, events: 100_000, kills: 10}
	}
	return crashPlan{customers: 500, accountsPer: 2, events: 5000, kills: 3}
}

// runCrash runs `provbus process` as a child process against an embedded
// cluster, kills it with SIGKILL at random moments while customer events
// flow, restarts it each time, and counts the output with checkEO.
func runCrash(t *testing.T, plan crashPlan) eoResult {
	c := startPCluster(t, 6)
	var accounts []*schemas.Event
	members := map[int64][]int64{}
	for cust := int64(1); cust <= int64(plan.customers); cust++ {
		for k := 0; k < plan.accountsPer; k++ {
			a := cust*100 + int64(k)
			accounts = append(accounts, accountNew(a, cust, 1))
			members[cust] = append(members[cust], a)
		}
	}
	c.send(directory.TopicAccounts, "i_account", accounts...)

	args := []string{"--brokers", c.brokers, "--registry", c.emb.RegistryURL(), "--log-level", "warn",
		"process", "--metrics", "127.0.0.1:0", "--processors", "directory,dispatch", "--transaction-timeout", "4s", "--session-timeout", "2s"}
	if plan.atLeastOnce {
		args = append(args, "--at-least-once")
	}
	start := func() *proc { return startProvbus(t, args...) }
	p := start()

	exp := newExpect()
	for j := 0; j < plan.events; j++ {
		cust := int64(j%plan.customers) + 1
		c.expectInherited(exp, fmt.Sprintf("crash-%d", j), "Customer/Status/Suspend", members[cust]...)
	}
	// The events go out in kills+1 chunks. After each chunk but the last,
	// the process is killed at a random moment while it is writing output
	// (the output's end offset is moving): a crash between produce and
	// commit is the one exactly-once must survive and at-least-once cannot.
	chunk := plan.events / (plan.kills + 1)
	next := 0
	sendChunk := func(n int) {
		const batch = 250
		for i := next; i < min(next+n, plan.events); i += batch {
			evs := make([]*schemas.Event, 0, batch)
			for j := i; j < min(i+batch, next+n, plan.events); j++ {
				cust := int64(j%plan.customers) + 1
				evs = append(evs, customerEvent(fmt.Sprintf("crash-%d", j), "Customer/Status/Suspend", cust))
			}
			c.send(dispatch.TopicCustomer, "i_customer", evs...)
		}
		next = min(next+n, plan.events)
	}
	for k := 0; k < plan.kills; k++ {
		before := c.outputEnd()
		sendChunk(chunk)
		deadline := time.Now().Add(30 * time.Second)
		for c.outputEnd() == before && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		t.Logf("kill %d/%d: SIGKILL while writing output (pid %d)", k+1, plan.kills, p.cmd.Process.Pid)
		p = start()
	}
	sendChunk(plan.events - next)

	got := c.readInherited(exp.len(), 5*time.Second, 180*time.Second)
	res := checkEO(exp, got)
	if res.dups > 0 && !plan.atLeastOnce {
		t.Logf("duplicates: %s", dupSample(got, 5))
	}
	if err := p.stop(syscall.SIGTERM, 30*time.Second); err != nil && !strings.Contains(err.Error(), "signal") {
		t.Logf("provbus process exit: %v", err)
	}
	return res
}

// The processor is SIGKILLed at random moments while customer events flow;
// the read_committed output holds every expected inherited event exactly
// once.
func TestProcessCrashExactlyOnce(t *testing.T) {
	t.Parallel()
	plan := defaultCrashPlan()
	res := runCrash(t, plan)
	t.Logf("injected: %d SIGKILLs during %d customer events; counted: %s", plan.kills, plan.events, res)
	if !res.ok() {
		t.Fatalf("exactly-once violated: %s", res)
	}
}

// The negative twin: the same run with transactions off must show
// duplicates, proving the checker above can see them.
func TestProcessCrashAtLeastOnceDuplicates(t *testing.T) {
	t.Parallel()
	plan := defaultCrashPlan()
	plan.atLeastOnce = true
	res := runCrash(t, plan)
	t.Logf("injected: %d SIGKILLs, transactions OFF; counted: %s", plan.kills, res)
	if res.dups == 0 {
		t.Fatalf("transactions off yet no duplicate counted: the checker cannot see duplicates (%s)", res)
	}
}
