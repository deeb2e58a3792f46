package route

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.UnixMilli(1_700_000_000_000)

// commit runs one "transaction": the changes are what a runner produces.
func commit(d *Dedup) []Change {
	ch := d.Changes(nil)
	d.Commit()
	return ch
}

func TestDedupWindowExpires(t *testing.T) {
	d := NewDedup(7 * 24 * time.Hour)
	tp := Partition{"portabilling.account", 0}
	if !d.Admit(tp, "a", t0) {
		t.Fatal("first sight not admitted")
	}
	commit(d)
	if d.Admit(tp, "a", t0.Add(6*24*time.Hour)) {
		t.Fatal("retry within the window admitted")
	}
	// Another id moves stream time past the window: "a" expires.
	d.Admit(tp, "b", t0.Add(8*24*time.Hour))
	ch := commit(d)
	var tombstones int
	for _, c := range ch {
		if c.Value == nil {
			tombstones++
		}
	}
	if tombstones != 1 || d.Len(tp) != 1 {
		t.Fatalf("tombstones %d, remembered %d; want 1, 1", tombstones, d.Len(tp))
	}
	if !d.Admit(tp, "a", t0.Add(8*24*time.Hour)) {
		t.Fatal("id not admitted after its window")
	}
}

func TestDedupAbortForgets(t *testing.T) {
	d := NewDedup(time.Hour)
	tp := Partition{"x", 1}
	d.Admit(tp, "a", t0)
	d.Changes(nil)
	d.Abort()
	if !d.Admit(tp, "a", t0) {
		t.Fatal("id of an aborted transaction is still remembered: its re-read would be dropped")
	}
}

func TestDedupPartitionsIndependent(t *testing.T) {
	d := NewDedup(time.Hour)
	d.Admit(Partition{"x", 1}, "a", t0)
	commit(d)
	if !d.Admit(Partition{"x", 2}, "a", t0) {
		t.Fatal("partitions share state")
	}
}

// TestDedupRestore replays the changelog, as compaction would leave it,
// into a new instance: it must remember what the first one did.
func TestDedupRestore(t *testing.T) {
	d := NewDedup(24*time.Hour, WithBuckets(24))
	tp := Partition{"portabilling.customer", 5}
	log := map[string][]byte{} // compacted: last value per key
	var order []string
	apply := func(chs []Change) {
		for _, c := range chs {
			if c.Partition != tp.Partition {
				t.Fatalf("change on partition %d", c.Partition)
			}
			if _, ok := log[string(c.Key)]; !ok {
				order = append(order, string(c.Key))
			}
			log[string(c.Key)] = c.Value
		}
	}
	for i := 0; i < 100; i++ {
		d.Admit(tp, fmt.Sprint("id-", i), t0.Add(time.Duration(i)*time.Hour/2))
		apply(commit(d))
	}
	// 100 ids over 50 h with a 24 h window: about the last 48–50 remain.
	r := NewDedup(24*time.Hour, WithBuckets(24))
	for _, k := range order {
		if _, err := r.Restore([]byte(k), log[k]); err != nil {
			t.Fatal(err)
		}
	}
	if r.Len(tp) != d.Len(tp) {
		t.Fatalf("restored %d ids, original has %d", r.Len(tp), d.Len(tp))
	}
	now := t0.Add(50 * time.Hour)
	if r.Admit(tp, "id-99", now) || r.Admit(tp, "id-60", now) {
		t.Error("restored state forgot a recent id")
	}
	if !r.Admit(tp, "id-1", now) {
		t.Error("restored state remembers an expired id")
	}
	// New chunks after a restore must not reuse a live key.
	chs := r.Changes(nil)
	for _, c := range chs {
		if c.Value != nil {
			if _, dup := log[string(c.Key)]; dup && log[string(c.Key)] != nil {
				t.Errorf("chunk key %s reused", c.Key)
			}
		}
	}
}

func TestDedupBadChangelog(t *testing.T) {
	d := NewDedup(time.Hour)
	for _, k := range []string{"nope", "t/x/1/2", "t/1/2/3"} {
		if _, err := d.Restore([]byte(k), []byte{9}); err == nil {
			t.Errorf("%s: no error", k)
		}
	}
}
