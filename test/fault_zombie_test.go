package test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/processors/dispatch"
	"github.com/provbus/provbus/schemas"
)

// zombieResult is what the zombie test counted.
type zombieResult struct {
	res            eoResult
	inTxn          string // the zombie's transaction when it was paused
	afterPause     string // and once the pause had passed the timeout
	zombieRecords  int    // records the zombie's producer wrote (read_uncommitted)
	zombieAborted  int    // of those, invisible to read_committed
	lateWritten    int    // written after SIGCONT by the fenced producer
	lateVisible    int    // of those, visible to read_committed
	lateReinit     int    // written after SIGCONT under a re-initialised epoch
	pausedPid      int64  // the producer inside the paused transaction
	pausedEpoch    int16  // and its epoch
	exit           string // what became of the zombie
	rejoinedAndRan bool   // it processed the last chunk alone
}

func (z zombieResult) String() string {
	return fmt.Sprintf("%s; zombie txn at pause %s, after %s; zombie records %d (%d aborted), after SIGCONT %d written, %d visible (and %d after re-initialising its producer epoch); zombie %s",
		z.res, z.inTxn, z.afterPause, z.zombieRecords, z.zombieAborted, z.lateWritten, z.lateVisible, z.lateReinit, z.exit)
}

// runZombie pauses a dispatcher (SIGSTOP) while it is inside a
// transaction, for longer than its transaction timeout, while a second
// instance takes over its partitions, then resumes it (SIGCONT). The
// zombie is told apart by its producer id: it runs alone first, so every
// producer id in the output then is its own; after SIGCONT, records of its
// producer under an epoch past the paused transaction's come from a
// producer the broker gave a new epoch (a new writer) and are counted
// apart.
func runZombie(t *testing.T, twin bool) zombieResult {
	const parts, customers, pause = 4, 50, 8 * time.Second // pause: 2× the transaction timeout
	c := startPCluster(t, parts)
	var accounts []*schemas.Event
	for cust := int64(1); cust <= customers; cust++ {
		accounts = append(accounts, accountNew(cust*100, cust, 1), accountNew(cust*100+1, cust, 1))
	}
	c.send(directory.TopicAccounts, "i_account", accounts...)
	base := []string{"--brokers", c.brokers, "--registry", c.emb.RegistryURL(), "--log-level", "warn",
		"process", "--metrics", "127.0.0.1:0", "--transaction-timeout", "4s", "--session-timeout", "2s"}
	startProvbus(t, append(base, "--processors", "directory")...)
	disp := append(base, "--processors", "dispatch")
	if twin {
		disp = append(disp, "--at-least-once")
	}
	zombie := startProvbusEnv(t, []string{"PROVBUS_PROCESS_INSTANCE_ID=zombie"}, disp...)

	exp := newExpect()
	var mu sync.Mutex
	next := 0
	send := func(n int) {
		mu.Lock()
		defer mu.Unlock()
		var evs []*schemas.Event
		for j := next; j < next+n; j++ {
			cust := int64(j%customers) + 1
			id := fmt.Sprintf("zb-%d", j)
			evs = append(evs, customerEvent(id, "Customer/Status/Suspend", cust))
			c.expectInherited(exp, id, "Customer/Status/Suspend", cust*100, cust*100+1)
		}
		next += n
		c.send(dispatch.TopicCustomer, "i_customer", evs...)
	}
	// Phase 1: the zombie alone; its producer ids are the output's.
	send(200)
	zpids := map[int64]bool{}
	for _, r := range c.readInherited(exp.len(), 500*time.Millisecond, 60*time.Second) {
		zpids[r.pid] = true
	}
	// Phase 2: a second instance joins and gets half the partitions.
	survivor := startProvbusEnv(t, []string{"PROVBUS_PROCESS_INSTANCE_ID=survivor"}, disp...)
	adm := kadm.NewClient(c.cl)
	waitMembers(t, adm, dispatch.Group, 2, 60*time.Second)

	// Phase 3: a steady stream; the zombie is stopped inside a
	// transaction that holds output (twin: while output is written).
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				send(20)
			}
		}
	}()
	var z zombieResult
	ctx := context.Background()
	txnOf := func() (kadm.DescribedTransaction, bool) {
		ls, err := adm.ListTransactions(ctx, nil, nil)
		if err != nil {
			return kadm.DescribedTransaction{}, false
		}
		for _, id := range ls.TransactionalIDs() {
			if id == dispatch.Group+"-zombie" { // static member: the stable id of process.instance_id
				ds, err := adm.DescribeTransactions(ctx, id)
				if err == nil {
					d, err := ds.On(id, nil)
					return d, err == nil
				}
			}
		}
		return kadm.DescribedTransaction{}, false
	}
	paused := false
	for try := 0; try < 500 && !paused; try++ {
		if twin {
			before := c.outputEnd()
			for deadline := time.Now().Add(5 * time.Second); c.outputEnd() == before && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			zombie.cmd.Process.Signal(syscall.SIGSTOP)
			paused, z.inTxn = true, "none (transactions off)"
			break
		}
		// Stop first, then look: a stopped process's transaction can
		// only end by the broker's timeout.
		zombie.cmd.Process.Signal(syscall.SIGSTOP)
		if d, ok := txnOf(); ok && d.State == "Ongoing" && len(d.Topics[dispatch.TopicInherited]) > 0 {
			paused = true
			z.inTxn = fmt.Sprintf("Ongoing (pid %d epoch %d, %d output partitions)", d.ProducerID, d.ProducerEpoch, len(d.Topics[dispatch.TopicInherited]))
			zpids[d.ProducerID] = true
			z.pausedPid, z.pausedEpoch = d.ProducerID, d.ProducerEpoch
			break
		}
		zombie.cmd.Process.Signal(syscall.SIGCONT)
		time.Sleep(time.Duration(5+rand.IntN(40)) * time.Millisecond)
	}
	if !paused {
		close(stop)
		t.Fatal("never caught the zombie inside a transaction with output")
	}
	time.Sleep(pause)
	if d, ok := txnOf(); ok {
		z.afterPause = fmt.Sprintf("%s (epoch %d)", d.State, d.ProducerEpoch)
	} else if !twin {
		z.afterPause = "not found"
	} else {
		z.afterPause = "none"
	}
	// What is in the output now is all the zombie wrote before SIGCONT.
	ends, err := adm.ListEndOffsets(ctx, dispatch.TopicInherited)
	if err != nil {
		t.Fatal(err)
	}
	contAt := time.Now()
	zombie.cmd.Process.Signal(syscall.SIGCONT)
	exited := make(chan string, 1)
	go func() {
		err := <-zombie.done
		zombie.done <- err // for the harness's cleanup
		exited <- fmt.Sprintf("exited %.1fs after SIGCONT (%v)", time.Since(contAt).Seconds(), err)
	}()
	time.Sleep(5 * time.Second) // its late writes, if any, and its rejoin
	close(stop)
	wg.Wait()

	// Phase 4: a zombie that exits is done; one that stays must have
	// rejoined cleanly: the survivor leaves and the zombie processes the
	// last chunk alone.
	wait := 20 * time.Second
	if twin {
		wait = 2 * time.Second // nothing to prove about its rejoin
	}
	select {
	case z.exit = <-exited:
	case <-time.After(wait):
		if !twin {
			if err := survivor.stop(syscall.SIGTERM, 30*time.Second); err != nil {
				t.Logf("survivor exit: %v", err)
			}
			send(200)
		}
	}
	committed := c.readInherited(exp.len(), 3*time.Second, 120*time.Second)
	z.res = checkEO(exp, committed)
	if z.exit == "" {
		z.rejoinedAndRan = !twin && z.res.missing == 0
		z.exit = "still running"
		if z.rejoinedAndRan {
			z.exit = "rejoined and processed the last chunk alone"
		} else if !twin {
			// Where it is stuck: the Go runtime's dump on SIGQUIT.
			zombie.cmd.Process.Signal(syscall.SIGQUIT)
			<-exited
			t.Logf("the zombie did not come back to work; its goroutines:\n%s", tail(zombie.out.String(), 30000))
		}
	}
	if z.res.dups > 0 && !twin {
		t.Logf("duplicates: %s", dupSample(committed, 5))
	}
	all, err := readOut(c.emb.Brokers(), c.codec, []string{dispatch.TopicInherited}, 0, 2*time.Second, 30*time.Second,
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()))
	if err != nil {
		t.Fatal(err)
	}
	visible := map[string]bool{}
	for _, r := range committed {
		visible[fmt.Sprintf("%d@%d", r.partition, r.offset)] = true
	}
	for _, r := range all {
		if !zpids[r.pid] {
			continue
		}
		z.zombieRecords++
		vis := visible[fmt.Sprintf("%d@%d", r.partition, r.offset)]
		if !vis {
			z.zombieAborted++
		}
		if e, ok := ends.Lookup(r.topic, r.partition); ok && r.offset >= e.Offset {
			// The broker fenced the paused transaction by bumping the
			// epoch when it aborted it. A record under a later epoch was
			// written by a producer the broker gave that newer epoch
			// (kgo recovers a timed-out transaction so, keeping its
			// producer id) in a transaction of the rejoined member: a new
			// writer, not the zombie's fenced one.
			if !twin && r.pid == z.pausedPid && r.epoch > z.pausedEpoch {
				z.lateReinit++
				continue
			}
			z.lateWritten++
			if vis {
				z.lateVisible++
			}
		}
	}
	return z
}

// waitMembers waits until group is stable with n members.
func waitMembers(t *testing.T, adm *kadm.Client, group string, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		ds, err := adm.DescribeGroups(context.Background(), group)
		if err == nil {
			if d, ok := ds[group]; ok && d.State == "Stable" && len(d.Members) == n {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("group %s never had %d stable members", group, n)
}

// Issue 8 #5: a dispatcher paused past its transaction timeout while
// another instance takes its partitions over, then resumed: what it wrote
// is aborted, nothing it writes later is visible, the read_committed
// output is exactly once, and the zombie rejoins (or exits) cleanly.
func TestFaultZombieFencing(t *testing.T) {
	t.Parallel()
	z := runZombie(t, false)
	report(t, "dispatcher SIGSTOPped inside an open transaction for 8 s (transaction timeout 4 s, session 2 s) while a second instance takes over, then SIGCONT",
		z.String())
	if !z.res.ok() {
		t.Errorf("exactly-once violated: %s", z.res)
	}
	if z.lateVisible > 0 {
		t.Errorf("%d records the zombie wrote after SIGCONT are visible", z.lateVisible)
	}
	if z.zombieAborted == 0 {
		t.Errorf("the zombie's open transaction held no record: nothing was fenced")
	}
	if !strings.HasPrefix(z.exit, "exited") && !z.rejoinedAndRan {
		t.Errorf("the zombie neither exited nor came back to work: %s", z.exit)
	}
}

// The twin: with transactions off the zombie's in-flight work is written
// by it and by the instance that took over, and the checker counts it.
func TestFaultZombieFencingTwin(t *testing.T) {
	t.Parallel()
	z := runZombie(t, true)
	report(t, "same pause, --at-least-once (no transactions)", z.String())
	if z.res.dups == 0 {
		t.Fatalf("transactions off yet no duplicate counted: the checker cannot see the zombie (%s)", z)
	}
}
