package directory

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/stream"
)

// pipeline runs the directory's and a dispatcher's cores in an order the
// test chooses: one account partition (0), one membership partition (0),
// each input's position kept as the runner keeps it.
type pipeline struct {
	t       *testing.T
	dir     *Directory
	members *Members
	pos     map[string]int64 // input topic → next offset to process
}

func newPipeline(t *testing.T, shared bool) *pipeline {
	d := New()
	d.marks.shared = shared
	return &pipeline{t: t, dir: d, members: NewMembers(), pos: map[string]int64{}}
}

// read is the directory processing the next record of input topic,
// partition 0: Process's steps, with the membership rows delivered to the
// dispatcher's table at once.
func (p *pipeline) read(topic string, f Fact) {
	p.dir.marks.observe(0)
	p.pos[topic]++
	_, changes, _ := p.dir.learn(0, f)
	for _, c := range changes {
		r, _ := memberRecord(c)
		if err := p.members.Apply(0, r); err != nil {
			p.t.Fatal(err)
		}
	}
}

// tick is the directory's Tick: its watermark record (if due) delivered
// to the dispatcher's table. It reports whether a record was written.
func (p *pipeline) tick() bool {
	t := stream.Tick{Assigned: []int32{0}, Position: func(topic string, part int32) (int64, bool) {
		return p.pos[topic], part == 0
	}}
	if !p.dir.marks.due(t.Assigned) {
		return false
	}
	r := recordOf(p.dir.marks.key(t.Assigned), p.dir.marks.value(t))
	if err := p.members.Apply(0, r); err != nil {
		p.t.Fatal(err)
	}
	return true
}

// fanOut is the dispatcher's view of customer's accounts for an event
// polled when the inputs end at accountEnd and snapshotEnd, or ok false
// while the watermark holds it back.
func (p *pipeline) fanOut(customer, accountEnd, snapshotEnd int64) (accounts []int64, ok bool) {
	ends := Ends{TopicAccounts: {0: accountEnd}, TopicSnapshot: {0: snapshotEnd}}
	if !p.members.Reached(0, 1, ends) {
		return nil, false
	}
	for _, m := range p.members.Accounts(0, customer, nil) {
		accounts = append(accounts, m.Account)
	}
	return accounts, true
}

// perInputScenario: Account/New for account 11 of customer 1 at offset 0
// of portabilling.account 0, unread; a snapshot of account 21 (customer 2)
// at offset 0 of provbus.directory.snapshot 0, read; then
// Customer/Status/Suspend of customer 1 is polled with both inputs ending
// at 1. It returns the accounts the customer event is fanned out to.
func perInputScenario(t *testing.T, shared bool) []int64 {
	p := newPipeline(t, shared)
	p.read(TopicSnapshot, Fact{Account: 21, Customer: ptr(int64(2)), Closed: ptr(false)})
	p.tick() // portabilling.account 0 still has the Account/New
	if got, ok := p.fanOut(1, 1, 1); ok {
		return got // released before the Account/New was read
	}
	p.read(TopicAccounts, Fact{Account: 11, Customer: ptr(int64(1)), Closed: ptr(false)})
	p.tick()
	got, ok := p.fanOut(1, 1, 1)
	if !ok {
		t.Fatal("both inputs read to their end, yet the customer event is not released")
	}
	return got
}

// The inputs are tracked apart: a snapshot read to its end does not
// release a customer event while an Account/New of the same partition
// number is unread.
func TestWatermarkPerInput(t *testing.T) {
	got := perInputScenario(t, false)
	if len(got) != 1 || got[0] != 11 {
		t.Fatalf("fan-out of customer 1 = %v, want [11] (the account created before the event)", got)
	}
}

// Negative twin: one position per partition number shared by both inputs
// (the larger) releases the event early and misses the account.
func TestWatermarkPerInputTwin(t *testing.T) {
	if got := perInputScenario(t, true); len(got) != 0 {
		t.Fatalf("shared watermark: fan-out %v includes the unread account; the scenario cannot catch the bug", got)
	}
}

// A member writes its watermark once after an assignment, then only in
// polls that processed records; inputs without records hold nothing back,
// and a stale watermark record never moves one down.
func TestWatermarkWrites(t *testing.T) {
	p := newPipeline(t, false)
	if _, ok := p.fanOut(1, 0, 0); !ok {
		t.Fatal("empty inputs: nothing to wait for, yet the event is held")
	}
	if !p.tick() {
		t.Fatal("no watermark written after the assignment")
	}
	if p.tick() {
		t.Fatal("watermark written again without records processed")
	}
	p.read(TopicAccounts, Fact{Account: 5, Customer: ptr(int64(1))})
	p.read(TopicAccounts, Fact{Account: 6, Customer: ptr(int64(1))})
	if _, ok := p.fanOut(1, 2, 0); ok {
		t.Fatal("released before the watermark of the poll that read the facts was written")
	}
	if !p.tick() {
		t.Fatal("no watermark after a poll that processed records")
	}
	if got, ok := p.fanOut(1, 2, 0); !ok || len(got) != 2 {
		t.Fatalf("fan-out = %v, %v; want both accounts, released", got, ok)
	}
	if err := p.members.Apply(0, recordOf([]byte(watermarkOffsets+"0"), []byte("0=1:0"))); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.fanOut(1, 2, 0); !ok {
		t.Fatal("a stale watermark record moved the watermark down")
	}
	// Time watermarks of earlier versions are skipped, not misread.
	if err := p.members.Apply(0, recordOf([]byte("wm/set/0"), []byte("0=1767225600000"))); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.fanOut(1, 3, 0); ok {
		t.Fatal("an old time watermark was read as an offset")
	}
}

func recordOf(key, value []byte) *kgo.Record { return &kgo.Record{Key: key, Value: value} }
