package test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/stream"
	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/processors/dispatch"
	"github.com/provbus/provbus/schemas"
)

// Issue 8 #6: state restore. The processors keep no local state: the
// directory's account table and the membership tables live only in their
// Kafka changelogs, and every instance rebuilds them from there on
// assignment. So "delete the local state" is starting a fresh process (no
// state directory exists to delete) after a SIGKILL mid-stream; then
//
//   - the directory restored from the changelogs (through the processors'
//     own Table.Apply and Members.Apply) must equal one rebuilt from the
//     input topics with the pure core, directory.Apply, and
//   - the fan-out output must be the set the facts imply (checkEO), which
//     is the output of a run without the crash.
//
// The facts written after the restart move and close accounts created
// before it, so a restore that lost rows shows in both checks (a move
// from an owner the restored table does not know leaves a stale
// membership behind). The negative check drops one fact from the rebuild's
// input and the comparison must see the difference.
func TestFaultStateRestore(t *testing.T) {
	t.Parallel()
	const parts = 4
	customers, events := 40, 800
	if long() {
		customers, events = 400, 20_000
	}
	c := startPCluster(t, parts)

	// model is what the facts say, kept while writing them: the expected
	// fan-out follows it.
	model := map[int64]directory.Row{}
	var facts []*schemas.Event
	var snaps []*kgo.Record
	snapshot := func(account, customer, product int64) {
		v, _ := json.Marshal(directory.Snapshot{Account: account, Customer: &customer, Product: &product})
		snaps = append(snaps, &kgo.Record{Topic: directory.TopicSnapshot, Key: []byte(itoa(account)), Value: v})
		r := model[account]
		r.Customer, r.Product = customer, product
		model[account] = r
	}
	for cust := int64(1); cust <= int64(customers); cust++ {
		for k := int64(0); k < 2; k++ {
			a := cust*100 + k
			facts = append(facts, accountNew(a, cust, 1+cust%5))
			model[a] = directory.Row{Customer: cust, Product: 1 + cust%5}
		}
		if cust <= int64(customers)/2 {
			snapshot(cust*100+50, cust, 1+cust%5) // a directory import
		}
	}
	c.send(directory.TopicAccounts, "i_account", facts...)
	c.produce(snaps...)

	args := []string{"--brokers", c.brokers, "--registry", c.emb.RegistryURL(), "--log-level", "warn",
		"process", "--metrics", "127.0.0.1:0", "--processors", "directory,dispatch", "--transaction-timeout", "4s", "--session-timeout", "2s"}
	p := startProvbus(t, args...)

	exp := newExpect()
	customerEvents := func(prefix string, from, to int) []*schemas.Event {
		var evs []*schemas.Event
		for j := from; j < to; j++ {
			cust := int64(j%customers) + 1
			id := fmt.Sprintf("%s-%d", prefix, j)
			evs = append(evs, customerEvent(id, "Customer/Status/Suspend", cust))
			c.expectInherited(exp, id, "Customer/Status/Suspend", openMembers(model, cust, false)...)
		}
		return evs
	}
	// Chunk 1: half, then the SIGKILL while the output is being written,
	// then the other half to the fresh instance.
	c.send(dispatch.TopicCustomer, "i_customer", customerEvents("rs", 0, events/4)...)
	before := c.outputEnd()
	c.send(dispatch.TopicCustomer, "i_customer", customerEvents("rs", events/4, events/2)...)
	for deadline := time.Now().Add(30 * time.Second); c.outputEnd() == before && time.Now().Before(deadline); {
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(time.Duration(rand.IntN(50)) * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	// A fresh process, nothing carried over: all it knows comes from the
	// changelogs.
	p = startProvbus(t, args...)
	c.readInherited(exp.len(), time.Second, 90*time.Second) // chunk 1 done: later facts cannot leak into it

	// Facts the restored tables must be right for: product moves and
	// closes of accounts from before the crash, and customer moves of
	// imported accounts (a new snapshot).
	var later []*schemas.Event
	for cust := int64(1); cust <= int64(customers)/4; cust++ {
		a := cust * 100
		later = append(later, &schemas.Event{EventID: fmt.Sprintf("mv-%d", a), Source: "portabilling", EventType: "Account/Product/Changed",
			Origin: schemas.OriginDirect, IAccount: id(a), IProduct: id(100 + cust), OccurredAt: time.Now(), ReceivedAt: time.Now(),
			Payload: "{}", Attributes: map[string]string{}})
		r := model[a]
		r.Product = 100 + cust
		model[a] = r
	}
	for cust := int64(customers)/4 + 1; cust <= int64(customers)/4+5; cust++ {
		a := cust*100 + 1
		later = append(later, &schemas.Event{EventID: fmt.Sprintf("close-%d", a), Source: "portabilling", EventType: "Account/Status/Closed",
			Origin: schemas.OriginDirect, IAccount: id(a), OccurredAt: time.Now(), ReceivedAt: time.Now(), Payload: "{}", Attributes: map[string]string{}})
		r := model[a]
		r.Closed = true
		model[a] = r
	}
	c.send(directory.TopicAccounts, "i_account", later...)
	snaps = nil
	for cust := int64(1); cust <= 5; cust++ {
		snapshot(cust*100+50, 1000+cust, 1+cust%5)
	}
	c.produce(snaps...)

	// Chunk 2 fans out over the changed tables: every customer (the new
	// owners too) and every product.
	evs := customerEvents("rs", events/2, events)
	for cust := int64(1001); cust <= 1005; cust++ {
		id := fmt.Sprintf("rs-new-%d", cust)
		evs = append(evs, customerEvent(id, "Customer/Status/Suspend", cust))
		c.expectInherited(exp, id, "Customer/Status/Suspend", openMembers(model, cust, false)...)
	}
	c.send(dispatch.TopicCustomer, "i_customer", evs...)
	var prods []*schemas.Event
	for _, prod := range productsOf(model) {
		id := fmt.Sprintf("rs-prod-%d", prod)
		prods = append(prods, productEvent(id, "Product/ServiceAttribute/Changed", prod))
		c.expectInherited(exp, id, "Product/ServiceAttribute/Changed", openMembers(model, prod, true)...)
	}
	c.send(dispatch.TopicProduct, "i_product", prods...)

	fan := checkEO(exp, c.readInherited(exp.len(), 3*time.Second, 120*time.Second))
	if err := p.stop(syscall.SIGTERM, 30*time.Second); err != nil {
		t.Logf("provbus process exit: %v", err)
	}

	input := c.readTopics(directory.TopicAccounts, directory.TopicSnapshot)
	tables := c.readTopics(directory.TopicAccountTable, directory.TopicCustomerTable, directory.TopicProductTable)
	rebuilt := rebuildDirectory(t, c.codec, input)
	diffs := compareDirectory(rebuilt, tables, parts)
	// The negative check: the same comparison against a rebuild that
	// misses one fact (the first product move) must see it.
	var corrupt []*kgo.Record
	dropped := false
	for _, r := range input {
		if !dropped && r.Topic == directory.TopicAccounts && string(r.Key) == "100" && r.Offset > 0 && isMove(t, c.codec, r) {
			dropped = true
			continue
		}
		corrupt = append(corrupt, r)
	}
	neg := compareDirectory(rebuildDirectory(t, c.codec, corrupt), tables, parts)

	report(t, fmt.Sprintf("SIGKILL of provbus process mid-stream, restart with no local state (state lives only in the changelogs); %d account facts + %d snapshots, %d fan-out events; then %d moves/closes of restored accounts",
		len(facts)+len(later), customers/2+5, len(evs)+events/2+len(prods), len(later)+5),
		fmt.Sprintf("restored vs pure rebuild of %d accounts: %d differences; fan-out %s; rebuild with one fact dropped: %d differences detected",
			len(rebuilt), len(diffs), fan, len(neg)))
	if len(diffs) > 0 {
		t.Errorf("restored directory differs from the rebuild: %s", strings.Join(diffs[:min(len(diffs), 10)], "; "))
	}
	if !fan.ok() {
		t.Errorf("fan-out after the restore: %s", fan)
	}
	if !dropped || len(neg) == 0 {
		t.Errorf("comparison blind: one fact dropped (%v), %d differences", dropped, len(neg))
	}
}

// openMembers returns the open accounts of owner (a customer, or a product
// when product) in model, sorted.
func openMembers(model map[int64]directory.Row, owner int64, product bool) []int64 {
	var out []int64
	for a, r := range model {
		o := r.Customer
		if product {
			o = r.Product
		}
		if o == owner && !r.Closed {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

func productsOf(model map[int64]directory.Row) []int64 {
	set := map[int64]bool{}
	for _, r := range model {
		set[r.Product] = true
	}
	var out []int64
	for p := range set {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// produce writes raw records, partitioned by key like the domain topics.
func (c *pcluster) produce(rs ...*kgo.Record) {
	c.t.Helper()
	if err := c.cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		c.t.Fatal(err)
	}
}

// readTopics reads every committed record of topics up to their current
// end offsets, in offset order per partition.
func (c *pcluster) readTopics(topics ...string) []*kgo.Record {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(c.cl).ListCommittedOffsets(ctx, topics...)
	if err != nil {
		c.t.Fatal(err)
	}
	left := map[string]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Topic+"/"+strconv.Itoa(int(o.Partition))] = o.Offset
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.emb.Brokers()...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords()) // a marker can be the last thing below the end
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			c.t.Fatalf("reading %v: %d partitions not read to the end", topics, len(left))
		}
		fs.EachRecord(func(r *kgo.Record) {
			k := r.Topic + "/" + strconv.Itoa(int(r.Partition))
			if e, ok := left[k]; ok && r.Offset >= e-1 {
				delete(left, k)
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}

// factOf is what an input record says about an account, as the directory
// reads it (directory.Directory.Process); ok is false for records that say
// nothing about membership.
func factOf(t *testing.T, codec *schemas.Codec, r *kgo.Record) (directory.Fact, bool) {
	t.Helper()
	if r.Topic == directory.TopicSnapshot {
		var s directory.Snapshot
		if err := json.Unmarshal(r.Value, &s); err != nil {
			t.Fatal(err)
		}
		return directory.Fact{Account: s.Account, Customer: s.Customer, Product: s.Product, Closed: s.Closed}, true
	}
	var ev schemas.Event
	if _, err := codec.Decode(context.Background(), r.Value, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.IAccount == nil {
		return directory.Fact{}, false
	}
	f := directory.Fact{Account: *ev.IAccount, Customer: ev.ICustomer, Product: ev.IProduct}
	switch ev.EventType {
	case "Account/Status/Closed":
		v := true
		f.Closed = &v
	case "Account/New":
		v := false
		f.Closed = &v
	}
	return f, true
}

func isMove(t *testing.T, codec *schemas.Codec, r *kgo.Record) bool {
	f, ok := factOf(t, codec, r)
	return ok && f.Product != nil && f.Customer == nil
}

// rebuildDirectory folds the input facts through the pure core in time
// order (the facts of one account are seconds apart, so the order across
// the two input topics is the order they were written in).
func rebuildDirectory(t *testing.T, codec *schemas.Codec, input []*kgo.Record) map[int64]directory.Row {
	t.Helper()
	rs := slices.Clone(input)
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Timestamp.Before(rs[j].Timestamp) })
	rows := map[int64]directory.Row{}
	for _, r := range rs {
		f, ok := factOf(t, codec, r)
		if !ok {
			continue
		}
		rows[f.Account], _ = directory.Apply(rows[f.Account], f)
	}
	return rows
}

// compareDirectory restores the directory from its changelogs the way the
// processors do (the account table through the directory's own
// Table.Apply, the memberships through directory.Members.Apply) and lists
// every difference from rebuilt.
func compareDirectory(rebuilt map[int64]directory.Row, changelogs []*kgo.Record, parts int32) []string {
	d := directory.New()
	accounts := d.Spec().Tables[0]
	cust, prod := directory.NewMembers(), directory.NewMembers()
	var diffs []string
	seen := map[int64]bool{}
	for _, r := range changelogs {
		var err error
		switch r.Topic {
		case directory.TopicAccountTable:
			err = accounts.Apply(r.Partition, r)
			if a, perr := strconv.ParseInt(string(r.Key), 10, 64); perr == nil {
				seen[a] = true
			}
		case directory.TopicCustomerTable:
			err = cust.Apply(r.Partition, r)
		case directory.TopicProductTable:
			err = prod.Apply(r.Partition, r)
		}
		if err != nil {
			diffs = append(diffs, fmt.Sprintf("restore %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err))
		}
	}
	pof := func(v int64) int32 { return stream.PartitionOf([]byte(itoa(v)), parts) }
	custRows, prodRows := map[int64][]int64{}, map[int64][]int64{}
	nCust, nProd := 0, 0
	for a, want := range rebuilt {
		got, ok := d.Lookup(pof(a), a)
		if !ok || got != want {
			diffs = append(diffs, fmt.Sprintf("account %d: restored %+v (found %v), rebuilt %+v", a, got, ok, want))
		}
		if want.Customer != 0 {
			nCust++
			if !want.Closed {
				custRows[want.Customer] = append(custRows[want.Customer], a)
			}
		}
		if want.Product != 0 {
			nProd++
			if !want.Closed {
				prodRows[want.Product] = append(prodRows[want.Product], a)
			}
		}
	}
	for a := range seen {
		if _, ok := rebuilt[a]; !ok {
			diffs = append(diffs, fmt.Sprintf("account %d restored, not in the input", a))
		}
	}
	members := func(kind string, m *directory.Members, want map[int64][]int64, n int) {
		if m.Len() != n {
			diffs = append(diffs, fmt.Sprintf("%s memberships: restored %d rows, rebuilt %d", kind, m.Len(), n))
		}
		for owner, accts := range want {
			slices.Sort(accts)
			var got []int64
			for _, mm := range m.Accounts(pof(owner), owner, nil) {
				got = append(got, mm.Account)
			}
			if !slices.Equal(got, accts) {
				diffs = append(diffs, fmt.Sprintf("%s %d: restored open accounts %v, rebuilt %v", kind, owner, got, accts))
			}
		}
	}
	members("customer", cust, custRows, nCust)
	members("product", prod, prodRows, nProd)
	return diffs
}
