package directory

import (
	"testing"
	"time"

	"github.com/provbus/provbus/internal/stream"
)

// pipeline runs the directory's and a dispatcher's cores in an order the
// test chooses: one account partition (0), one membership partition (0).
type pipeline struct {
	t       *testing.T
	dir     *Directory
	members *Members
}

func newPipeline(t *testing.T, shared bool) *pipeline {
	d := New(100 * time.Millisecond)
	d.marks.shared = shared
	return &pipeline{t: t, dir: d, members: NewMembers()}
}

// read is the directory processing one input record of partition 0 with
// broker timestamp at (ms): Process's steps, with the membership rows
// delivered to the dispatcher's table at once.
func (p *pipeline) read(topic string, at int64, f Fact) {
	p.dir.marks.observe(topic, 0, time.UnixMilli(at))
	_, changes, _ := p.dir.learn(0, f)
	for _, c := range changes {
		r, _ := memberRecord(c)
		if err := p.members.Apply(0, r); err != nil {
			p.t.Fatal(err)
		}
	}
}

// tick is the directory's Tick at now (ms) with the inputs caught up,
// its watermark record (if any) delivered to the dispatcher's table.
func (p *pipeline) tick(now int64, caughtUp map[string][]int32) {
	t := stream.Tick{Now: time.UnixMilli(now), CaughtUp: caughtUp, Assigned: []int32{0}}
	if !p.dir.marks.release(t) {
		return
	}
	if err := p.members.Apply(0, p.dir.marks.record(t.Assigned)); err != nil {
		p.t.Fatal(err)
	}
}

// fanOut is the dispatcher's view of customer's accounts for an event
// with timestamp at, or ok false while the watermark holds it back.
func (p *pipeline) fanOut(customer, at int64) (accounts []int64, ok bool) {
	if !p.members.Reached(0, 1, time.UnixMilli(at)) {
		return nil, false
	}
	for _, m := range p.members.Accounts(0, customer, nil) {
		accounts = append(accounts, m.Account)
	}
	return accounts, true
}

// perInputScenario: Account/New for account 11 of customer 1 at t=1 s in
// portabilling.account 0, unread; Customer/Status/Suspend of customer 1 at
// t=2 s; a snapshot of account 21 (customer 2) at t=3 s in
// provbus.directory.snapshot 0, read, and that input caught up. It
// returns the accounts the customer event is fanned out to.
func perInputScenario(t *testing.T, shared bool) []int64 {
	p := newPipeline(t, shared)
	p.read(TopicSnapshot, 3000, Fact{Account: 21, Customer: ptr(int64(2)), Closed: ptr(false)})
	p.tick(3500, map[string][]int32{TopicSnapshot: {0}}) // portabilling.account 0 still has the Account/New
	if got, ok := p.fanOut(1, 2000); ok {
		return got // released before the Account/New was read
	}
	p.read(TopicAccounts, 1000, Fact{Account: 11, Customer: ptr(int64(1)), Closed: ptr(false)})
	p.tick(3600, map[string][]int32{TopicSnapshot: {0}, TopicAccounts: {0}})
	got, ok := p.fanOut(1, 2000)
	if !ok {
		t.Fatal("both inputs read and caught up, yet the customer event is not released")
	}
	return got
}

// The released time of a partition is the minimum over its inputs: a
// newer snapshot does not release a customer event while an older
// Account/New of the same partition number is unread.
func TestWatermarkPerInput(t *testing.T) {
	got := perInputScenario(t, false)
	if len(got) != 1 || got[0] != 11 {
		t.Fatalf("fan-out of customer 1 = %v, want [11] (the account created before the event)", got)
	}
}

// Negative twin: one timestamp per partition number shared by both inputs
// (the rule before #18) releases the event early and misses the account.
func TestWatermarkPerInputTwin(t *testing.T) {
	if got := perInputScenario(t, true); len(got) != 0 {
		t.Fatalf("shared watermark: fan-out %v includes the unread account; the scenario cannot catch the bug", got)
	}
}

// An idle, caught-up member moves its watermarks with the clock, at most
// every IdleHeartbeat; a partition with unread records does not move past
// its newest record however long it is idle.
func TestWatermarkHeartbeat(t *testing.T) {
	p := newPipeline(t, false)
	both := map[string][]int32{TopicSnapshot: {0}, TopicAccounts: {0}}
	p.tick(10_000, both)
	if !p.members.Reached(0, 1, time.UnixMilli(9_900)) || p.members.Reached(0, 1, time.UnixMilli(9_901)) {
		t.Fatalf("caught up at 10 s with 100 ms skew: want released exactly to 9.9 s, got %v", p.members.parts[0].wm)
	}
	p.tick(10_100, both) // before the heartbeat: no record
	if p.members.Reached(0, 1, time.UnixMilli(10_000)) {
		t.Fatal("watermark moved without new facts before IdleHeartbeat")
	}
	p.tick(10_000+IdleHeartbeat.Milliseconds(), both)
	if !p.members.Reached(0, 1, time.UnixMilli(10_100)) {
		t.Fatal("idle heartbeat did not move the watermark")
	}
	p.read(TopicAccounts, 20_000, Fact{Account: 5, Customer: ptr(int64(1))})
	p.tick(60_000, map[string][]int32{TopicSnapshot: {0}}) // account input behind
	if !p.members.Reached(0, 1, time.UnixMilli(19_900)) || p.members.Reached(0, 1, time.UnixMilli(19_901)) {
		t.Fatalf("account input behind at its record of 20 s: want released to 19.9 s, got %v", p.members.parts[0].wm)
	}
}
