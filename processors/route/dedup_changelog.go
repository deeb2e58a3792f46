package route

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The de-duplication changelog is a compacted topic. Each transaction writes,
// per input partition that admitted ids, one chunk record:
//
//	key   "<input topic>/<input partition>/<bucket start, unix ms>/<seq>"
//	value 0x01, then the 64-bit id hashes, big-endian, 8 bytes each
//
// and, when a bucket falls out of the window, a tombstone (nil value) for
// each of its chunks, so compaction deletes expired ids from the topic as
// expiry deletes them from memory. The record goes to the changelog
// partition with the input partition's number, so restoring one input
// partition reads one changelog partition. Keys are text so that
// `provbus tail` and kcat show something an operator can read; topic names
// cannot contain "/", so the key parses unambiguously.

const chunkVersion = 1

// ErrBadChangelog marks a changelog record this version cannot read.
var ErrBadChangelog = errors.New("bad dedup changelog record")

// Change is one changelog record to produce in the transaction: Partition is
// the changelog partition (= the input partition), Value nil is a tombstone.
type Change struct {
	Partition int32
	Key       []byte
	Value     []byte
}

// Changes appends to dst the changelog records of everything staged since
// the last Commit or Abort: one chunk per partition with new ids, and
// tombstones for buckets that left the window. Call it once per transaction,
// before committing, and produce its records in that transaction.
func (d *Dedup) Changes(dst []Change) []Change {
	if d.off {
		return dst
	}
	for tp, p := range d.parts {
		oldest := p.pendStream - d.nBuckets // buckets below it have expired
		p.pendExpired = p.pendExpired[:0]
		remembered := len(p.seen)
		for b := range p.buckets {
			if b < oldest {
				p.pendExpired = append(p.pendExpired, b)
				remembered -= p.live(b)
			}
		}
		// The memory bound: the oldest buckets go first, whole; then, if
		// the bucket being written alone is too big, its oldest chunks.
		p.pendExpired, p.pendEvicted = p.evictFor(remembered, len(p.pending), d.maxIDs, p.pendStream, p.pendExpired)
		var trimmed int
		p.pendTrim, trimmed = p.trimFor(p.pendStream, remembered-p.pendEvicted, len(p.pending), d.maxIDs, 0)
		p.pendEvicted += trimmed
		for _, b := range p.pendExpired {
			for _, k := range p.buckets[b].chunks {
				dst = append(dst, Change{Partition: tp.Partition, Key: []byte(k)})
			}
		}
		if p.pendTrim > 0 {
			for _, k := range p.buckets[p.pendStream].chunks[:p.pendTrim] {
				dst = append(dst, Change{Partition: tp.Partition, Key: []byte(k)})
			}
		}
		for _, k := range p.orphans {
			dst = append(dst, Change{Partition: tp.Partition, Key: []byte(k)})
		}
		p.pendOrphan = len(p.orphans)
		if len(p.pending) == 0 {
			continue
		}
		bs := p.bucket(p.pendStream)
		v := make([]byte, 1, 1+8*len(p.pending))
		v[0] = chunkVersion
		for _, h := range p.pending {
			v = binary.BigEndian.AppendUint64(v, h)
		}
		key := chunkKey(tp, p.pendStream*d.bucketMS, bs.nextSeq)
		p.pendChunk = key
		dst = append(dst, Change{Partition: tp.Partition, Key: []byte(key), Value: v})
	}
	return dst
}

func chunkKey(tp Partition, startMS int64, seq uint32) string {
	return tp.Topic + "/" + strconv.Itoa(int(tp.Partition)) + "/" + strconv.FormatInt(startMS, 10) + "/" + strconv.FormatUint(uint64(seq), 10)
}

// Restore applies one changelog record read back on partition assignment,
// in changelog order. It returns the input partition the record belongs to,
// so a runner can skip records of partitions it was not assigned.
func (d *Dedup) Restore(key, value []byte) (Partition, error) {
	tp, startMS, seq, err := parseChunkKey(string(key))
	if err != nil || d.off {
		return tp, err
	}
	p := d.part(tp)
	b := startMS / d.bucketMS
	if value == nil {
		// Buckets expire whole, so one tombstone retires the bucket.
		if bs := p.buckets[b]; bs != nil {
			for _, h := range bs.hashes {
				if p.seen[h] == b {
					delete(p.seen, h)
				}
			}
			delete(p.buckets, b)
		}
		return tp, nil
	}
	if len(value) < 1 || value[0] != chunkVersion || (len(value)-1)%8 != 0 {
		return tp, fmt.Errorf("%w: key %q: value of %d bytes", ErrBadChangelog, key, len(value))
	}
	bs := p.bucket(b)
	for i := 1; i < len(value); i += 8 {
		h := binary.BigEndian.Uint64(value[i:])
		bs.hashes = append(bs.hashes, h)
		if old, ok := p.seen[h]; !ok || old < b {
			p.seen[h] = b
		}
	}
	bs.chunks = append(bs.chunks, string(key))
	bs.chunkEnd = append(bs.chunkEnd, len(bs.hashes))
	bs.nextSeq = max(bs.nextSeq, seq+1)
	if b > p.stream {
		p.stream, p.pendStream = b, b
	}
	d.restoreBound(tp, p, b)
	return tp, nil
}

// restoreBound keeps a restoring partition within the memory bound: the
// oldest buckets (never the one just read) are forgotten, then, if that
// bucket alone is too big, its oldest chunks (never the one just read);
// their tombstones wait for the next transaction (orphans).
func (d *Dedup) restoreBound(tp Partition, p *partState, justRead int64) {
	gone, evicted := p.evictFor(len(p.seen), 0, d.maxIDs, justRead, nil)
	if k, n := p.trimFor(justRead, len(p.seen)-evicted, 0, d.maxIDs, 1); k > 0 {
		p.orphans = append(p.orphans, p.dropChunks(justRead, k)...)
		evicted += n
	}
	if evicted == 0 {
		return
	}
	for _, b := range gone {
		for _, h := range p.buckets[b].hashes {
			if p.seen[h] == b {
				delete(p.seen, h)
			}
		}
		p.orphans = append(p.orphans, p.buckets[b].chunks...)
		delete(p.buckets, b)
	}
	if d.onEvict != nil {
		d.onEvict(tp, evicted, time.UnixMilli(p.oldestKept(nil)*d.bucketMS))
	}
}

func parseChunkKey(k string) (tp Partition, startMS int64, seq uint32, err error) {
	parts := strings.Split(k, "/")
	if len(parts) != 4 {
		return tp, 0, 0, fmt.Errorf("%w: key %q", ErrBadChangelog, k)
	}
	p, err1 := strconv.ParseInt(parts[1], 10, 32)
	ms, err2 := strconv.ParseInt(parts[2], 10, 64)
	s, err3 := strconv.ParseUint(parts[3], 10, 32)
	if err := errors.Join(err1, err2, err3); err != nil {
		return tp, 0, 0, fmt.Errorf("%w: key %q: %v", ErrBadChangelog, k, err)
	}
	return Partition{Topic: parts[0], Partition: int32(p)}, ms, uint32(s), nil
}
