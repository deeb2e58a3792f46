// Package order is the per-key scheduler of delivery: the one place that
// decides which event may be sent, and which offset may be committed.
//
// The invariants, all kept here:
//
//   - Per key FIFO. Events of one record key are sent in topic order, and
//     event n+1 is not sent before event n has a final outcome (delivered,
//     failed, skipped). Each key has a queue; only its head is ever sent.
//   - Isolation. A head waiting for a retry or blocked by an operator holds
//     its own key only; the other keys of its partition go on.
//   - Bounded concurrency. No more heads are in flight (handed out by Due,
//     neither finished nor taken back) than the bound given to New.
//   - Commit. The committed offset of a partition is the lowest offset
//     that is neither final nor durable in the state topic: everything
//     below it survives a crash, either as an outcome already reached or as
//     a state row a restart restores. So a key retrying for a month does
//     not pin its partition's offset: its head, and every later event of
//     the key, is written to the state topic (Stored) as soon as the head
//     must wait, and the offset moves on once the write is acknowledged.
//
// The Scheduler does no I/O and reads no clock: the caller (deliver's
// handler loop) sends what Due returns, writes the entries returned as
// writes to the state topic, and reports back with Finish and Durable.
// It is not safe for concurrent use.
package order

import (
	"container/heap"
	"time"
)

// Entry is one event of a handler topic on its way to the target.
type Entry struct {
	Partition int32
	Offset    int64
	Key       string
	// Value is the handler record's value (wire-format Avro).
	Value []byte
	// EventID and EventType are the caller's, filled once it decoded Value.
	EventID, EventType string
	// Attempt counts attempts started so far.
	Attempt int
	// FirstAt is when the first attempt started (zero before).
	FirstAt time.Time
	// NextAt is when the head may be sent again (zero: at once).
	NextAt time.Time
	// Blocked: a permanent failure under on_permanent_failure=block;
	// the key waits for an operator.
	Blocked bool
	// Stored: the entry was handed out for a state write and lives in the
	// state topic until a tombstone removes it.
	Stored bool
	// Durable: the state topic acknowledged a write of the entry.
	Durable bool
	// LastError is the last attempt's error or status, for status output.
	LastError string

	final, inFlight, revoked bool
	// unacked: fetched, and neither final nor durable yet (Unacked).
	unacked bool
}

// Final reports whether the entry reached a final outcome.
func (e *Entry) Final() bool { return e.final }

// Revoked reports whether the entry's partition was taken away: its
// outcome is no longer this instance's to record.
func (e *Entry) Revoked() bool { return e.revoked }

// Result is what an attempt came to, as the caller decided it (retry.Classify
// plus the handler's on_permanent_failure and max age).
type Result int

// Results of an attempt.
const (
	// Done: delivered, failed or skipped; the key moves on.
	Done Result = iota
	// Retry: try again at the given time.
	Retry
	// Block: hold the key until an operator unblocks or skips it.
	Block
)

// Scheduler orders one handler's events. Build it with New.
type Scheduler struct {
	maxInFlight int
	inFlight    int
	paused      bool

	unacked int // fetched entries neither final nor durable

	keys  map[string][]*Entry // per key, in offset order; [0] is the head
	ready []string            // keys whose head is due now, FIFO
	later waitHeap            // keys whose head waits for NextAt
	parts map[int32]*partition
}

type partition struct {
	fetched   []*Entry // fetched entries not yet passed by the commit point
	next      int64    // the offset after the last fetched or skipped record
	committed int64    // what Commits last returned (-1: nothing yet)
	floor     map[string]int64
}

// New returns a Scheduler sending at most maxInFlight events at once.
func New(maxInFlight int) *Scheduler {
	return &Scheduler{maxInFlight: max(1, maxInFlight), keys: map[string][]*Entry{}, parts: map[int32]*partition{}}
}

func (s *Scheduler) part(p int32) *partition {
	pt := s.parts[p]
	if pt == nil {
		pt = &partition{next: -1, committed: -1, floor: map[string]int64{}}
		s.parts[p] = pt
	}
	return pt
}

// Restore loads a partition's entries from the state topic (durable, in
// offset order per key) before its records are fetched. A restored key's
// records at or below its highest restored offset are final or restored,
// so Add drops them when the handler topic hands them out again.
func (s *Scheduler) Restore(entries []*Entry) {
	for _, e := range entries {
		e.Stored, e.Durable = true, true
		pt := s.part(e.Partition)
		if f, ok := pt.floor[e.Key]; !ok || e.Offset > f {
			pt.floor[e.Key] = e.Offset
		}
		s.push(e)
	}
}

// Add takes the next record of a partition. It returns false when the
// record was already handled (see Restore), and the entries to write to
// the state topic: e itself when its key's head already lives there, so
// that the partition's offset can move past e.
func (s *Scheduler) Add(e *Entry) (added bool, writes []*Entry) {
	pt := s.part(e.Partition)
	pt.next = e.Offset + 1
	if f, ok := pt.floor[e.Key]; ok && e.Offset <= f {
		return false, nil
	}
	pt.fetched = append(pt.fetched, e)
	e.unacked = true
	s.unacked++
	q := s.keys[e.Key]
	s.push(e)
	if len(q) > 0 && q[0].Stored {
		e.Stored = true
		return true, []*Entry{e}
	}
	return true, nil
}

// push appends e to its key's queue, making it due if it is the head.
func (s *Scheduler) push(e *Entry) {
	q := s.keys[e.Key]
	s.keys[e.Key] = append(q, e)
	if len(q) == 0 {
		s.wake(e)
	}
}

// wake schedules a new head: due now, later, or not at all when blocked.
func (s *Scheduler) wake(head *Entry) {
	switch {
	case head.Blocked:
	case head.NextAt.IsZero():
		s.ready = append(s.ready, head.Key)
	default:
		heap.Push(&s.later, waiting{head.NextAt, head.Key})
	}
}

// SetPaused stops (true) or resumes Due; attempts in flight finish.
func (s *Scheduler) SetPaused(p bool) { s.paused = p }

// Paused reports whether the scheduler is paused.
func (s *Scheduler) Paused() bool { return s.paused }

// Due returns the heads to send now, at most the free in-flight slots and
// at most limit (0: no limit; a half-open circuit breaker sends one probe),
// keys due longest first. Each returned entry is in flight until Finish.
func (s *Scheduler) Due(now time.Time, limit int) []*Entry { return s.AppendDue(nil, now, limit) }

// AppendDue is Due appending to out: a loop that asks on every step
// reuses one slice.
func (s *Scheduler) AppendDue(out []*Entry, now time.Time, limit int) []*Entry {
	if s.paused {
		return out
	}
	for s.later.Len() > 0 && !s.later[0].at.After(now) {
		w := heap.Pop(&s.later).(waiting)
		s.ready = append(s.ready, w.key)
	}
	n := len(out)
	for len(s.ready) > 0 && s.inFlight < s.maxInFlight && (limit <= 0 || len(out)-n < limit) {
		key := s.ready[0]
		s.ready = s.ready[1:]
		q := s.keys[key]
		if len(q) == 0 || q[0].inFlight || q[0].Blocked || q[0].NextAt.After(now) {
			continue // stale: the key was revoked, finished or rescheduled
		}
		e := q[0]
		e.inFlight = true
		e.Attempt++
		if e.FirstAt.IsZero() {
			e.FirstAt = now
		}
		s.inFlight++
		out = append(out, e)
	}
	return out
}

// NextWake returns when the earliest waiting head is due (zero: none).
func (s *Scheduler) NextWake() time.Time {
	if s.later.Len() == 0 {
		return time.Time{}
	}
	return s.later[0].at
}

// Finish records the result of e's attempt (at is the retry time for
// Retry). It returns the entries to write to the state topic — for Retry
// and Block, e and every later entry of its key not yet stored; for Done,
// e itself when it was stored, to be deleted (a tombstone) — and whether
// to delete rather than write. An entry of a revoked partition returns
// nothing: its new owner restored it.
func (s *Scheduler) Finish(e *Entry, r Result, at time.Time) (writes []*Entry, tombstone bool) {
	if !e.inFlight {
		return nil, false
	}
	e.inFlight = false
	if e.revoked {
		return nil, false
	}
	s.inFlight--
	switch r {
	case Done:
		e.final = true
		s.acked(e)
		s.pop(e)
		if e.Stored {
			return []*Entry{e}, true
		}
		return nil, false
	case Block:
		e.Blocked = true
	default:
		e.NextAt = at
		heap.Push(&s.later, waiting{at, e.Key})
	}
	return s.store(e), false
}

// store marks e and the rest of its key's queue Stored and returns them.
func (s *Scheduler) store(e *Entry) []*Entry {
	out := []*Entry{e}
	// An entry already durable keeps counting as durable: its older row
	// in the state topic is enough to resume it after a crash.
	e.Stored = true
	for _, x := range s.keys[e.Key][1:] {
		if !x.Stored {
			x.Stored = true
			out = append(out, x)
		}
	}
	return out
}

// pop removes the head e of its key and wakes the next one.
func (s *Scheduler) pop(e *Entry) {
	q := s.keys[e.Key]
	if len(q) == 0 || q[0] != e {
		return
	}
	q = q[1:]
	if len(q) == 0 {
		delete(s.keys, e.Key)
		return
	}
	s.keys[e.Key] = q
	s.wake(q[0])
}

// Unsend takes back an entry Due handed out that was never sent (the
// caller's send queue was emptied by a pause, an opening circuit breaker
// or a revocation): it is no longer in flight, its attempt is not counted, and its
// key is the first to go again.
func (s *Scheduler) Unsend(e *Entry) {
	if !e.inFlight {
		return
	}
	e.inFlight = false
	if e.revoked {
		return // Revoke already freed its slot
	}
	s.inFlight--
	if e.Attempt--; e.Attempt == 0 {
		e.FirstAt = time.Time{}
	}
	s.ready = append([]string{e.Key}, s.ready...)
}

// Durable records that the state topic acknowledged a write of e.
func (s *Scheduler) Durable(e *Entry) {
	if !e.revoked {
		e.Durable = true
		s.acked(e)
	}
}

// acked takes e out of the Unacked count once it is final or durable.
func (s *Scheduler) acked(e *Entry) {
	if e.unacked {
		e.unacked = false
		s.unacked--
	}
}

// Commits returns, for each partition whose commit point moved, the offset
// to commit: the lowest fetched offset that is neither final nor durable,
// or the offset after the last fetched record.
func (s *Scheduler) Commits() map[int32]int64 {
	out := map[int32]int64{}
	for p, pt := range s.parts {
		i := 0
		for i < len(pt.fetched) && (pt.fetched[i].final || pt.fetched[i].Durable) {
			i++
		}
		pt.fetched = pt.fetched[i:]
		at := pt.next
		if len(pt.fetched) > 0 {
			at = pt.fetched[0].Offset
		}
		if at >= 0 && at > pt.committed {
			pt.committed = at
			out[p] = at
		}
	}
	return out
}

// Holdouts bounds what a crash repeats. The commit point stops at the
// lowest entry that is neither final nor durable, so one slow attempt (a
// 10 s timeout) would let the partition's later records be delivered
// without their offsets being committed, and a crash would send them all
// again. Holdouts returns, to be written to the state topic, every entry
// that is neither final nor stored, lies more than maxGap offsets behind
// the partition's fetch position and belongs to a key whose head was
// tried; once durable, the commit point moves past them. A stored entry that was in flight at a crash is sent
// again after the restart: the in-flight repeat it already was.
func (s *Scheduler) Holdouts(maxGap int64) []*Entry {
	var out []*Entry
	for _, pt := range s.parts {
		for _, e := range pt.fetched {
			if e.Offset >= pt.next-maxGap {
				break
			}
			// Only keys whose head was tried: an entry waiting for a free
			// in-flight slot holds the commit point briefly, and storing
			// every such entry of a large poll would double the writes.
			if h := s.Head(e.Key); !e.final && !e.Stored && h != nil && h.Attempt > 0 {
				e.Stored = true
				out = append(out, e)
			}
		}
	}
	return out
}

// Unacked returns how many fetched entries are neither final nor durable:
// what a crash would make the partition re-read. The caller stops fetching
// above a bound, which bounds memory too.
func (s *Scheduler) Unacked() int { return s.unacked }

// Revoke forgets a partition that was taken away. Its in-flight attempts
// finish without effect; the new owner restores what was stored.
func (s *Scheduler) Revoke(p int32) {
	if pt := s.parts[p]; pt != nil {
		for _, e := range pt.fetched {
			s.acked(e)
		}
	}
	for key, q := range s.keys {
		if len(q) == 0 || q[0].Partition != p {
			continue
		}
		for _, e := range q {
			e.revoked = true
			if e.inFlight {
				s.inFlight--
			}
		}
		delete(s.keys, key)
	}
	delete(s.parts, p)
}

// Inject queues an event that is not fetched from the topic (a redrive of
// a failed event) behind its key's queue, stored: the caller writes it to
// the state topic, which is where a restart finds it.
func (s *Scheduler) Inject(e *Entry) {
	e.Stored = true
	s.push(e)
}

// Head returns the head of key's queue, or nil.
func (s *Scheduler) Head(key string) *Entry {
	if q := s.keys[key]; len(q) > 0 {
		return q[0]
	}
	return nil
}

// Unblock lets a blocked head be sent again at once (its attempts go on
// counting). It returns the entry to write to the state topic, or nil
// when the head is not blocked.
func (s *Scheduler) Unblock(key string) *Entry {
	e := s.Head(key)
	if e == nil || !e.Blocked || e.inFlight {
		return nil
	}
	e.Blocked, e.NextAt = false, time.Time{}
	s.wake(e)
	return e
}

// SkipHead gives up a blocked or waiting head (not one in flight): it is
// final, and the key moves on. It returns the entry, to be recorded as
// skipped and deleted from the state topic, or nil.
func (s *Scheduler) SkipHead(key string) *Entry {
	e := s.Head(key)
	if e == nil || e.inFlight {
		return nil
	}
	e.final = true
	s.acked(e)
	s.pop(e)
	return e
}

// Each calls fn for every queued entry (heads and waiting followers).
func (s *Scheduler) Each(fn func(e *Entry, head bool)) {
	for _, q := range s.keys {
		for i, e := range q {
			fn(e, i == 0)
		}
	}
}

type waiting struct {
	at  time.Time
	key string
}

type waitHeap []waiting

func (h waitHeap) Len() int           { return len(h) }
func (h waitHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h waitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *waitHeap) Push(x any)        { *h = append(*h, x.(waiting)) }
func (h *waitHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	*h = old[:len(old)-1]
	return w
}
