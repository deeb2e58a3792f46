package route

import (
	"slices"
	"time"
)

// DefaultMaxIDs is how many event ids Dedup remembers per input partition
// at most (process.dedup_max_ids): about 40 MB at ~40 bytes per id
// (BENCHMARKS.md). A partition that reaches it forgets its oldest bucket
// first, before the window would.
const DefaultMaxIDs = 1_000_000

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
// # The protocol (the one production runs, through route.Stream)
//
//  1. Admit stages an id in the open transaction (Process).
//  2. Changes, once per transaction before it ends, returns the changelog
//     records of what was staged: one chunk of new ids per partition, and
//     tombstones for buckets that left the window or were evicted by the
//     memory bound (Tick).
//  3. Commit, after that transaction committed, makes the staged ids and
//     removals permanent; Abort, after it aborted, forgets exactly what
//     was staged — the transaction's input is re-read, so its ids must not
//     stay remembered — and nothing else: no reload of the window.
//  4. Restore rebuilds a partition from its changelog when it is assigned;
//     RevokePartition drops it when it is revoked.
//
// Memory is bounded per input partition (WithMaxIDs): past the bound the
// oldest buckets are evicted whole, tombstoned in the changelog like
// expired ones, and reported to the eviction hook (WithEvictionHook).
// Dedup is not safe for concurrent use; the runner calls it from its one
// processing goroutine (route.Stream locks around it).
type Dedup struct {
	window   int64 // ms
	bucketMS int64
	nBuckets int64
	maxIDs   int
	off      bool
	parts    map[Partition]*partState
	onEvict  func(tp Partition, ids int, oldestKept time.Time)
}

// DedupOption configures a Dedup.
type DedupOption func(*Dedup)

// configure applies opts to a Dedup already made (before it is used).
func (d *Dedup) configure(opts ...DedupOption) {
	for _, o := range opts {
		o(d)
	}
}

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

// WithMaxIDs bounds the ids remembered per input partition (default
// DefaultMaxIDs; n ≤ 0 keeps the default). One transaction's new ids may
// exceed it until the next one.
func WithMaxIDs(n int) DedupOption {
	return func(d *Dedup) {
		if n > 0 {
			d.maxIDs = n
		}
	}
}

// WithEvictionHook calls fn when the memory bound makes a partition forget
// ids before the window ends: how many, and the start of the oldest bucket
// still remembered (the partition's effective window).
func WithEvictionHook(fn func(tp Partition, ids int, oldestKept time.Time)) DedupOption {
	return func(d *Dedup) { d.onEvict = fn }
}

// Disabled turns de-duplication off: every event is admitted and no state is
// kept. Tests use it to prove their duplicate checker can fail.
func Disabled() DedupOption { return func(d *Dedup) { d.off = true } }

// NewDedup returns a de-duplicator remembering ids for window (the
// configuration's process.dedup_window, 7 days by default). A window ≤ 0
// disables it.
func NewDedup(window time.Duration, opts ...DedupOption) *Dedup {
	d := &Dedup{window: window.Milliseconds(), nBuckets: DefaultBuckets, maxIDs: DefaultMaxIDs, parts: map[Partition]*partState{}}
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
	pendEvicted int     // of their ids, how many leave before the window ends
	pendTrim    int     // oldest chunks of the current bucket the bound drops
	pendChunk   string  // key of the chunk Changes wrote for pending
	// orphans are chunk keys of buckets evicted while restoring: their
	// tombstones go out with the next transaction.
	orphans    []string
	pendOrphan int // how many of orphans the open transaction tombstones
}

// bucketSt is one bucket: its hashes and the changelog chunks holding them.
type bucketSt struct {
	hashes   []uint64
	chunks   []string // changelog keys of this bucket's chunks, for tombstones
	chunkEnd []int    // per chunk, the end of its hashes in hashes
	nextSeq  uint32
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
	for tp, p := range d.parts {
		if p.pendEvicted > 0 && d.onEvict != nil {
			d.onEvict(tp, p.pendEvicted, time.UnixMilli(p.oldestKept(p.pendExpired)*d.bucketMS))
		}
		p.pendEvicted = 0
		p.orphans = p.orphans[p.pendOrphan:]
		p.pendOrphan = 0
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
		if p.pendTrim > 0 {
			p.dropChunks(p.pendStream, p.pendTrim)
			p.pendTrim = 0
		}
		if len(p.pending) > 0 {
			bs := p.bucket(p.pendStream)
			bs.hashes = append(bs.hashes, p.pending...)
			for _, h := range p.pending {
				p.seen[h] = p.pendStream
			}
			if p.pendChunk != "" {
				bs.chunks = append(bs.chunks, p.pendChunk)
				bs.chunkEnd = append(bs.chunkEnd, len(bs.hashes))
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
		p.pendEvicted = 0
		p.pendTrim = 0
		p.pendOrphan = 0
		p.pendChunk = ""
		p.pendStream = p.stream
	}
}

// oldestKept returns the oldest bucket that stays once the buckets in gone
// are removed (-1 if none does).
func (p *partState) oldestKept(gone []int64) int64 {
	oldest := int64(-1)
	for b := range p.buckets {
		if !slices.Contains(gone, b) && (oldest < 0 || b < oldest) {
			oldest = b
		}
	}
	return oldest
}

// evictFor picks the oldest buckets, except keep and those already in
// gone, to remove so that at most max ids stay when incoming are added,
// and returns gone extended with them and the number of ids they hold.
// remembered counts the ids that stay without any eviction.
func (p *partState) evictFor(remembered, incoming, maxIDs int, keep int64, gone []int64) ([]int64, int) {
	if remembered+incoming <= maxIDs {
		return gone, 0
	}
	order := make([]int64, 0, len(p.buckets))
	for b := range p.buckets {
		if b != keep && !slices.Contains(gone, b) {
			order = append(order, b)
		}
	}
	slices.Sort(order)
	evicted := 0
	for _, b := range order {
		if remembered+incoming <= maxIDs {
			break
		}
		n := p.live(b)
		gone = append(gone, b)
		remembered -= n
		evicted += n
	}
	return gone, evicted
}

// trimFor is evictFor inside one bucket, for when the bucket being written
// alone passes the bound (a burst: an import, a replay): how many of bucket
// b's oldest chunks, all but its newest keepNewest, must go for at most
// max ids to stay, and how many ids they hold.
func (p *partState) trimFor(b int64, remembered, incoming, maxIDs, keepNewest int) (chunks, ids int) {
	bs := p.buckets[b]
	if bs == nil {
		return 0, 0
	}
	start := 0
	for chunks < len(bs.chunkEnd)-keepNewest && remembered+incoming > maxIDs {
		end := bs.chunkEnd[chunks]
		n := 0
		for _, h := range bs.hashes[start:end] {
			if p.seen[h] == b {
				n++
			}
		}
		remembered -= n
		ids += n
		start = end
		chunks++
	}
	return chunks, ids
}

// dropChunks forgets bucket b's k oldest chunks and returns their keys.
func (p *partState) dropChunks(b int64, k int) []string {
	bs := p.buckets[b]
	end := bs.chunkEnd[k-1]
	for _, h := range bs.hashes[:end] {
		if p.seen[h] == b {
			delete(p.seen, h)
		}
	}
	keys := slices.Clone(bs.chunks[:k])
	bs.hashes = slices.Clone(bs.hashes[end:]) // a copy, so the memory goes
	bs.chunks = bs.chunks[k:]
	bs.chunkEnd = bs.chunkEnd[k:]
	for i := range bs.chunkEnd {
		bs.chunkEnd[i] -= end
	}
	return keys
}

// live counts the ids whose newest sighting is in bucket b: what removing
// b forgets.
func (p *partState) live(b int64) int {
	n := 0
	for _, h := range p.buckets[b].hashes {
		if p.seen[h] == b {
			n++
		}
	}
	return n
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
