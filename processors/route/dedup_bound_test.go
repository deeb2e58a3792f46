package route

import (
	"fmt"
	"testing"
	"time"
)

// changelog is a compacted changelog: the last value per key, in first-write
// order, as a restore reads it after compaction.
type changelog struct {
	vals  map[string][]byte
	order []string
}

func (c *changelog) apply(chs []Change) {
	for _, ch := range chs {
		if _, ok := c.vals[string(ch.Key)]; !ok {
			c.order = append(c.order, string(ch.Key))
		}
		c.vals[string(ch.Key)] = ch.Value
	}
}

func (c *changelog) live() int {
	n := 0
	for _, v := range c.vals {
		if v != nil {
			n += (len(v) - 1) / 8
		}
	}
	return n
}

// Issue 18 #6: the memory bound evicts the oldest bucket first, tombstones
// it like an expired one, reports it, and keeps the newest ids.
func TestDedupBoundEvictsOldestFirst(t *testing.T) {
	var evicted int
	var since time.Time
	d := NewDedup(7*24*time.Hour, WithMaxIDs(100), WithEvictionHook(func(_ Partition, n int, oldest time.Time) {
		evicted += n
		since = oldest
	}))
	tp := Partition{"portabilling.account", 3}
	log := &changelog{vals: map[string][]byte{}}
	// 5 hours, 50 new ids per hour, one transaction per hour.
	for h := 0; h < 5; h++ {
		for i := 0; i < 50; i++ {
			if !d.Admit(tp, fmt.Sprintf("h%d-%d", h, i), t0.Add(time.Duration(h)*time.Hour)) {
				t.Fatalf("new id h%d-%d not admitted", h, i)
			}
		}
		log.apply(commit(d))
		if d.Len(tp) > 100 {
			t.Fatalf("hour %d: %d ids remembered, bound 100", h, d.Len(tp))
		}
	}
	if evicted != 150 {
		t.Errorf("evicted %d ids, want 150 (hours 0–2)", evicted)
	}
	hour := time.Hour.Milliseconds()
	if want := time.UnixMilli(t0.Add(3*time.Hour).UnixMilli() / hour * hour); !since.Equal(want) {
		t.Errorf("remembered since %s, want about %s", since, want)
	}
	if d.Admit(tp, "h4-7", t0.Add(5*time.Hour)) || d.Admit(tp, "h3-0", t0.Add(5*time.Hour)) {
		t.Error("a recent id was forgotten: eviction is not oldest first")
	}
	if !d.Admit(tp, "h0-1", t0.Add(5*time.Hour)) {
		t.Error("an evicted id is still remembered")
	}
	d.Abort()
	if n := log.live(); n != 100 {
		t.Errorf("the changelog keeps %d live ids after compaction, want 100: evicted buckets were not tombstoned", n)
	}
}

// A restore of a changelog larger than the bound keeps the newest ids and
// tombstones what it dropped with the next transaction.
func TestDedupRestoreKeepsTheBound(t *testing.T) {
	tp := Partition{"portabilling.account", 1}
	big := NewDedup(7 * 24 * time.Hour)
	log := &changelog{vals: map[string][]byte{}}
	for h := 0; h < 6; h++ {
		for i := 0; i < 40; i++ {
			big.Admit(tp, fmt.Sprintf("h%d-%d", h, i), t0.Add(time.Duration(h)*time.Hour))
		}
		log.apply(commit(big))
	}
	evicted := 0
	r := NewDedup(7*24*time.Hour, WithMaxIDs(100), WithEvictionHook(func(_ Partition, n int, _ time.Time) { evicted += n }))
	for _, k := range log.order {
		if _, err := r.Restore([]byte(k), log.vals[k]); err != nil {
			t.Fatal(err)
		}
	}
	if r.Len(tp) > 100 || evicted != 160 {
		t.Fatalf("restored %d ids (bound 100), evicted %d (want 160)", r.Len(tp), evicted)
	}
	if r.Admit(tp, "h5-3", t0.Add(6*time.Hour)) {
		t.Error("the newest ids were not kept")
	}
	r.Abort()
	log.apply(commit(r))
	if n := log.live(); n != 80 {
		t.Errorf("after the next transaction the changelog keeps %d live ids, want 80 (hours 4–5)", n)
	}
}

// An abort forgets the open transaction's ids and nothing else: the
// committed window stays without any reload.
func TestDedupAbortTouchesOnlyTheTransaction(t *testing.T) {
	d := NewDedup(7 * 24 * time.Hour)
	tp := Partition{"portabilling.account", 0}
	d.Admit(tp, "committed", t0)
	commit(d)
	if !d.Admit(tp, "staged", t0.Add(time.Minute)) {
		t.Fatal("new id not admitted")
	}
	d.Changes(nil)
	d.Abort()
	if d.Admit(tp, "committed", t0.Add(2*time.Minute)) {
		t.Error("an abort forgot a committed id")
	}
	if !d.Admit(tp, "staged", t0.Add(2*time.Minute)) {
		t.Error("an aborted id is still remembered: its re-read would be dropped (loss)")
	}
	d.Abort()
	if d.Len(tp) != 1 {
		t.Errorf("%d ids remembered, want 1", d.Len(tp))
	}
}

// A burst inside one bucket (an import, a replay: every record stamped in
// the same hour) is bounded too: the current bucket's oldest chunks go.
func TestDedupBoundHoldsWithinOneBucket(t *testing.T) {
	evicted := 0
	d := NewDedup(7*24*time.Hour, WithMaxIDs(100), WithEvictionHook(func(_ Partition, n int, _ time.Time) { evicted += n }))
	tp := Partition{"portabilling.account", 2}
	log := &changelog{vals: map[string][]byte{}}
	for tx := 0; tx < 6; tx++ {
		for i := 0; i < 50; i++ {
			d.Admit(tp, fmt.Sprintf("t%d-%d", tx, i), t0.Add(time.Duration(tx)*time.Second))
		}
		log.apply(commit(d))
		if d.Len(tp) > 100 {
			t.Fatalf("transaction %d: %d ids remembered in one bucket, bound 100", tx, d.Len(tp))
		}
	}
	if evicted != 200 {
		t.Errorf("evicted %d ids, want 200", evicted)
	}
	if d.Admit(tp, "t5-0", t0.Add(time.Minute)) || d.Admit(tp, "t4-49", t0.Add(time.Minute)) {
		t.Error("the newest ids were forgotten")
	}
	if !d.Admit(tp, "t0-0", t0.Add(time.Minute)) {
		t.Error("the oldest ids are still remembered")
	}
	d.Abort()
	if n := log.live(); n != 100 {
		t.Errorf("the changelog keeps %d live ids, want 100: trimmed chunks were not tombstoned", n)
	}
	// A restore of a one-bucket burst bigger than the bound keeps the
	// newest chunks.
	big := NewDedup(7 * 24 * time.Hour)
	blog := &changelog{vals: map[string][]byte{}}
	for tx := 0; tx < 6; tx++ {
		for i := 0; i < 40; i++ {
			big.Admit(tp, fmt.Sprintf("b%d-%d", tx, i), t0)
		}
		blog.apply(commit(big))
	}
	r := NewDedup(7*24*time.Hour, WithMaxIDs(100))
	for _, k := range blog.order {
		if _, err := r.Restore([]byte(k), blog.vals[k]); err != nil {
			t.Fatal(err)
		}
	}
	if r.Len(tp) > 100 || r.Admit(tp, "b5-1", t0) {
		t.Errorf("restored %d ids (bound 100), newest kept: %v", r.Len(tp), !r.Admit(tp, "b5-2", t0))
	}
}
