package route

import (
	"time"
)

// DefaultBuckets is how many time buckets a de-duplication window is cut
// into (168: one per hour of the default 7-day window). Expiry drops a whole
// bucket at once, so an id is remembered for between window and
// window + window/DefaultBuckets.
const DefaultBuckets = 168

// Partition names one input partition. De-duplication state is kept per
// input partition: an event id always arrives with the same key on the same
// domain topic, so a webhook retry or replay of it lands on the partition
// that already saw it, and the state moves with the partition on a
// rebalance.
type Partition struct {
	Topic     string
	Partition int32
}

// Dedup remembers the event ids routed within a window, per input
// partition, as 64-bit hashes in hourly buckets. Time is the input record's
// timestamp, not the wall clock, so re-processing the same records after a
// crash makes the same decisions.
//
// Changes are transactional: Admit stages, Changes returns the changelog
// records of what was staged (new ids and expired buckets), and Commit or
// Abort is called with the outcome of the transaction that carried them. An
// aborted transaction's input is re-read, so its ids must not stay
// remembered. Dedup is not safe for concurrent use; the runner calls it from
// its one processing goroutine.
type Dedup struct {
	window   int64 // ms
	bucketMS int64
	nBuckets int64
	off      bool
	parts    map[Partition]*partState
}

// DedupOption configures a Dedup.
type DedupOption func(*Dedup)

// WithBuckets sets how many buckets the window is cut into (default
// DefaultBuckets): more buckets expire more precisely but cost more
// changelog records per transaction.
func WithBuckets(n int) DedupOption {
	return func(d *Dedup) {
		if n > 0 {
			d.nBuckets = int64(n)
		}
	}
}

// Disabled turns de-duplication off: every event is admitted and no state is
// kept. Tests use it to prove their duplicate checker can fail.
func Disabled() DedupOption { return func(d *Dedup) { d.off = true } }

// NewDedup returns a de-duplicator remembering ids for window (the
// configuration's process.dedup_window, 7 days by default). A window ≤ 0
// disables it.
func NewDedup(window time.Duration, opts ...DedupOption) *Dedup {
	d := &Dedup{window: window.Milliseconds(), nBuckets: DefaultBuckets, parts: map[Partition]*partState{}}
	for _, o := range opts {
		o(d)
	}
	if d.window <= 0 {
		d.off = true
		return d
	}
	d.bucketMS = max(d.window/d.nBuckets, 1)
	return d
}

// partState is one input partition's seen-set.
type partState struct {
	seen    map[uint64]int64    // id hash → bucket it was last stored in
	buckets map[int64]*bucketSt // bucket → its hashes and changelog chunks
	stream  int64               // highest bucket seen: stream time

	pending     []uint64 // staged hashes, stored at commit in bucket stream
	pendingSet  map[uint64]struct{}
	pendStream  int64
	pendExpired []int64 // buckets whose tombstones are in the open transaction
	pendChunk   string  // key of the chunk Changes wrote for pending
}

// bucketSt is one bucket: its hashes and the changelog chunks holding them.
type bucketSt struct {
	hashes  []uint64
	chunks  []string // changelog keys of this bucket's chunks, for tombstones
	nextSeq uint32
}

func (d *Dedup) part(tp Partition) *partState {
	p := d.parts[tp]
	if p == nil {
		p = &partState{seen: map[uint64]int64{}, buckets: map[int64]*bucketSt{}, pendingSet: map[uint64]struct{}{}, stream: -1, pendStream: -1}
		d.parts[tp] = p
	}
	return p
}

// Admit reports whether the event id has not been routed from tp within the
// window ending at ts (the input record's timestamp) and, if so, stages it as
// routed. A false answer means "duplicate: do not route".
func (d *Dedup) Admit(tp Partition, eventID string, ts time.Time) bool {
	if d.off {
		return true
	}
	p := d.part(tp)
	b := ts.UnixMilli() / d.bucketMS
	if b > p.pendStream {
		p.pendStream = b
	}
	h := Hash(eventID)
	if _, dup := p.pendingSet[h]; dup {
		return false
	}
	if sb, ok := p.seen[h]; ok && sb > p.pendStream-d.nBuckets-1 {
		return false
	}
	p.pendingSet[h] = struct{}{}
	p.pending = append(p.pending, h)
	return true
}

// Commit makes what was staged since the last Commit or Abort permanent; call
// it after the transaction carrying Changes committed.
func (d *Dedup) Commit() {
	for _, p := range d.parts {
		for _, b := range p.pendExpired {
			if bs := p.buckets[b]; bs != nil {
				for _, h := range bs.hashes {
					if p.seen[h] == b {
						delete(p.seen, h)
					}
				}
				delete(p.buckets, b)
			}
		}
		p.pendExpired = p.pendExpired[:0]
		if len(p.pending) > 0 {
			bs := p.bucket(p.pendStream)
			bs.hashes = append(bs.hashes, p.pending...)
			for _, h := range p.pending {
				p.seen[h] = p.pendStream
			}
			if p.pendChunk != "" {
				bs.chunks = append(bs.chunks, p.pendChunk)
				bs.nextSeq++
			}
		}
		p.stream = p.pendStream
		p.pendChunk = ""
		p.pending = p.pending[:0]
		clear(p.pendingSet)
	}
}

// Abort forgets what was staged since the last Commit or Abort; call it when
// the transaction failed, before the input is re-read.
func (d *Dedup) Abort() {
	for _, p := range d.parts {
		p.pending = p.pending[:0]
		clear(p.pendingSet)
		p.pendExpired = p.pendExpired[:0]
		p.pendChunk = ""
		p.pendStream = p.stream
	}
}

// Revoke drops the state of partitions this instance no longer owns; their
// new owner restores it from the changelog.
func (d *Dedup) Revoke(tps ...Partition) {
	for _, tp := range tps {
		delete(d.parts, tp)
	}
}

// Len returns how many ids are remembered for tp (committed only).
func (d *Dedup) Len(tp Partition) int {
	if p := d.parts[tp]; p != nil {
		return len(p.seen)
	}
	return 0
}

func (p *partState) bucket(b int64) *bucketSt {
	bs := p.buckets[b]
	if bs == nil {
		bs = &bucketSt{}
		p.buckets[b] = bs
	}
	return bs
}

// Hash is the 64-bit FNV-1a hash of an event id, the form Dedup stores. It is
// stable across processes and versions because it is written to the
// changelog. With a million ids per partition in the window, the chance that
// a new id collides with a remembered one (and is wrongly dropped) is about
// 5·10⁻¹⁴ per event.
func Hash(eventID string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(eventID); i++ {
		h ^= uint64(eventID[i])
		h *= prime
	}
	return h
}

// RevokePartition drops the state of partition number n of every input
// topic, which is what one changelog partition holds.
func (d *Dedup) RevokePartition(n int32) {
	for tp := range d.parts {
		if tp.Partition == n {
			delete(d.parts, tp)
		}
	}
}
