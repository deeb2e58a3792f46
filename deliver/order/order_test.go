package order

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

func entry(p int32, off int64, key string) *Entry { return &Entry{Partition: p, Offset: off, Key: key} }

func keysOf(es []*Entry) string {
	s := ""
	for _, e := range es {
		s += fmt.Sprintf("%s@%d ", e.Key, e.Offset)
	}
	return s
}

func TestPerKeyOrderAndIsolation(t *testing.T) {
	s := New(10)
	a0, a1, b2, a3, c4 := entry(0, 0, "a"), entry(0, 1, "a"), entry(0, 2, "b"), entry(0, 3, "a"), entry(0, 4, "c")
	for _, e := range []*Entry{a0, a1, b2, a3, c4} {
		s.Add(e)
	}
	if got := keysOf(s.Due(t0, 0)); got != "a@0 b@2 c@4 " {
		t.Fatalf("first Due = %q: only heads, every key", got)
	}
	// a's head fails: it and its followers go to the state topic, b and c
	// are delivered.
	writes, del := s.Finish(a0, Retry, t0.Add(time.Minute))
	if del || keysOf(writes) != "a@0 a@1 a@3 " {
		t.Fatalf("retry writes %q (del %v), want a's whole queue", keysOf(writes), del)
	}
	s.Finish(b2, Done, time.Time{})
	s.Finish(c4, Done, time.Time{})
	if got := s.Due(t0.Add(time.Second), 0); len(got) != 0 {
		t.Fatalf("a's follower was sent before its head's final outcome: %q", keysOf(got))
	}
	// Nothing durable yet: the commit point stays at a@0.
	if c := s.Commits(); c[0] != 0 {
		t.Fatalf("commit = %v, want offset 0", c)
	}
	if n := s.Unacked(); n != 3 {
		t.Fatalf("Unacked = %d, want a's three stored-but-unacknowledged entries", n)
	}
	for _, e := range writes {
		s.Durable(e)
	}
	if c := s.Commits(); c[0] != 5 {
		t.Fatalf("commit = %v, want 5: everything is final or durable", c)
	}
	if n := s.Unacked(); n != 0 {
		t.Fatalf("Unacked = %d, want 0", n)
	}
	// A later record of a is stored at once: its head lives in state.
	a5 := entry(0, 5, "a")
	if _, w := s.Add(a5); keysOf(w) != "a@5 " {
		t.Fatalf("Add behind a stored head writes %q", keysOf(w))
	}
	// The retry comes due; then a's events go strictly one at a time.
	for i, want := range []*Entry{a0, a1, a3, a5} {
		due := s.Due(t0.Add(2*time.Minute), 0)
		if len(due) != 1 || due[0] != want {
			t.Fatalf("step %d: Due = %q, want %s@%d", i, keysOf(due), want.Key, want.Offset)
		}
		if w, del := s.Finish(want, Done, time.Time{}); !del || len(w) != 1 {
			t.Fatalf("step %d: a stored entry's final outcome must delete its row", i)
		}
	}
}

func TestMaxInFlightAndPause(t *testing.T) {
	s := New(2)
	for i := range 5 {
		s.Add(entry(0, int64(i), fmt.Sprint("k", i)))
	}
	first := s.Due(t0, 0)
	if len(first) != 2 {
		t.Fatalf("Due = %d, want 2", len(first))
	}
	s.SetPaused(true)
	s.Finish(first[0], Done, time.Time{})
	if got := s.Due(t0, 0); len(got) != 0 {
		t.Fatalf("paused but sent %q", keysOf(got))
	}
	s.SetPaused(false)
	if got := keysOf(s.Due(t0, 0)); got != "k2@2 " {
		t.Fatalf("after resume Due = %q, want k2 (one slot free, order kept)", got)
	}
}

// TestUnsend: an entry handed out and taken back unsent is as if never
// handed out: its slot free, its attempt not counted, its key first again.
func TestUnsend(t *testing.T) {
	s := New(2)
	for i := range 4 {
		s.Add(entry(0, int64(i), fmt.Sprint("k", i)))
	}
	out := s.Due(t0, 0) // k0, k1
	s.Unsend(out[1])
	if e := out[1]; e.Attempt != 0 || !e.FirstAt.IsZero() {
		t.Fatalf("after Unsend: attempt %d, first at %v", e.Attempt, e.FirstAt)
	}
	s.Unsend(out[1]) // twice is once
	if got := keysOf(s.Due(t0.Add(time.Second), 0)); got != "k1@1 " {
		t.Fatalf("Due after Unsend = %q, want k1 again first and alone (k0 still in flight)", got)
	}
	if out[1].FirstAt != t0.Add(time.Second) {
		t.Fatalf("first at %v, want the real send", out[1].FirstAt)
	}

	// A retried head keeps its earlier attempts and first time.
	q := New(1)
	q.Add(entry(0, 0, "k"))
	e := q.Due(t0, 0)[0]
	q.Finish(e, Retry, t0.Add(time.Second))
	if again := q.Due(t0.Add(2*time.Second), 0); keysOf(again) != "k@0 " || e.Attempt != 2 {
		t.Fatalf("Due = %q, attempt %d", keysOf(again), e.Attempt)
	}
	q.Unsend(e)
	if e.Attempt != 1 || e.FirstAt != t0 {
		t.Fatalf("after Unsend of a retry: attempt %d, first at %v", e.Attempt, e.FirstAt)
	}

	// One of a revoked partition is forgotten, its slot freed by Revoke.
	r := New(1)
	r.Add(entry(3, 0, "x"))
	r.Add(entry(4, 0, "y"))
	x := r.Due(t0, 0)[0]
	r.Revoke(3)
	r.Unsend(x)
	if got := keysOf(r.Due(t0, 0)); got != "y@0 " {
		t.Fatalf("after revoke and Unsend Due = %q, want y alone", got)
	}
}

func TestRestoreDropsWhatWasHandled(t *testing.T) {
	s := New(4)
	// The state topic holds a@3 (retrying) and a@5 (queued behind it); the
	// group's offset is 1, so the topic hands out 1..6 again.
	r3 := &Entry{Partition: 0, Offset: 3, Key: "a", Attempt: 4, NextAt: t0.Add(time.Hour)}
	r5 := &Entry{Partition: 0, Offset: 5, Key: "a"}
	s.Restore([]*Entry{r3, r5})
	var added []string
	for off, key := range []string{1: "a", 2: "b", 3: "a", 4: "a", 5: "a", 6: "a"} {
		if key == "" {
			continue
		}
		if ok, _ := s.Add(entry(0, int64(off), key)); ok {
			added = append(added, fmt.Sprintf("%s@%d", key, off))
		}
	}
	if fmt.Sprint(added) != "[b@2 a@6]" {
		t.Fatalf("added %v: a at or below its restored offset 5 is final or restored", added)
	}
	if got := keysOf(s.Due(t0, 0)); got != "b@2 " {
		t.Fatalf("Due = %q: a waits for its restored retry", got)
	}
	if got := keysOf(s.Due(t0.Add(time.Hour), 0)); got != "a@3 " || r3.Attempt != 5 {
		t.Fatalf("Due = %q attempt %d, want the restored head, attempt 5", got, r3.Attempt)
	}
}

func TestBlockSkipUnblock(t *testing.T) {
	s := New(4)
	a0, a1 := entry(0, 0, "a"), entry(0, 1, "a")
	s.Add(a0)
	s.Add(a1)
	s.Finish(s.Due(t0, 0)[0], Block, time.Time{})
	if got := s.Due(t0.Add(24*time.Hour), 0); len(got) != 0 {
		t.Fatalf("a blocked key sent %q", keysOf(got))
	}
	if s.Unblock("a") != a0 {
		t.Fatal("Unblock did not release the head")
	}
	s.Finish(s.Due(t0, 0)[0], Block, time.Time{})
	if s.SkipHead("a") != a0 || !a0.Final() {
		t.Fatal("SkipHead did not finish the head")
	}
	if got := keysOf(s.Due(t0, 0)); got != "a@1 " {
		t.Fatalf("after skip Due = %q", got)
	}
}

func TestRevokeForgetsInFlight(t *testing.T) {
	s := New(1)
	a0 := entry(3, 0, "a")
	s.Add(a0)
	s.Due(t0, 0)
	s.Revoke(3)
	if w, _ := s.Finish(a0, Retry, t0); w != nil {
		t.Fatal("a revoked entry wrote state")
	}
	s.Add(entry(4, 0, "b"))
	if got := s.Due(t0, 0); len(got) != 1 {
		t.Fatal("the revoked in-flight slot was not freed")
	}
}

func TestHoldoutsBoundTheCommitGap(t *testing.T) {
	s := New(20)
	slow := entry(0, 0, "slow")
	s.Add(slow)
	s.Add(entry(0, 1, "slow"))
	for i := int64(2); i < 10; i++ {
		s.Add(entry(0, i, fmt.Sprint("k", i)))
	}
	for _, e := range s.Due(t0, 0) {
		if e != slow {
			s.Finish(e, Done, time.Time{})
		}
	}
	if c := s.Commits(); c[0] != 0 {
		t.Fatalf("commit %v: the slow head holds the partition", c)
	}
	h := s.Holdouts(5)
	if keysOf(h) != "slow@0 slow@1 " {
		t.Fatalf("Holdouts = %q, want the slow key's entries", keysOf(h))
	}
	for _, e := range h {
		s.Durable(e)
	}
	if c := s.Commits(); c[0] != 10 {
		t.Fatalf("commit %v: durable holdouts must free the partition", c)
	}
	if w, del := s.Finish(slow, Done, time.Time{}); !del || len(w) != 1 {
		t.Fatal("a stored holdout's outcome must delete its row")
	}
}
