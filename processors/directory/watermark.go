package directory

// The directory's watermarks: the one rule that puts every account fact
// logged before a customer (or product) event into that event's fan-out.
// Writer, encoding and reader are all in this file; docs/processing.md
// ("Ordering") tells the same story for operators.
//
// Watermarks are offsets, not times: no clock, skew or heartbeat is part
// of the rule (the time watermarks before #14 made every inherited event
// wait at least a skew of 100 ms plus a tick).
//
// # The promise
//
// A watermark (a, o, s), read by a dispatcher in membership partition m,
// promises: every record below offset o of portabilling.account a and
// below offset s of provbus.directory.snapshot a has been applied, and its
// membership rows are in partition m before the record carrying the
// watermark.
//
// # The rule the dispatcher follows
//
// A dispatcher holds each polled customer (or product) record until, for
// every account partition a, the watermark of a in its membership
// partition is at or past the end offsets of both directory inputs listed
// after the poll returned (stream.Partitions.EndOffsets: one listing per
// poll). The customer record was appended before the poll returned, so
// every fact appended before it lies below those end offsets.
//
// # Why it holds
//
//  1. Per input, per partition. The two inputs are separate logs read at
//     their own pace, so each has its own position; one number shared by
//     both (the larger) released a customer event while an older
//     Account/New was unread (TestWatermarkPerInput and its twin).
//  2. Positions are the runner's: Tick.Position is the next offset to
//     process, and it is committed in the same transaction as the
//     watermark record, after every membership row of the poll (Process
//     writes rows, Tick the watermark). A dispatcher reads membership
//     partitions read_committed and in order, so the rows a watermark
//     covers are applied before it.
//  3. Only up. A position never moves down once committed (a new owner
//     resumes from the committed offset), and the reader keeps the
//     maximum per input partition, so a stale record left by an earlier
//     assignment changes nothing.
//  4. No fact, no wait. An idle directory writes nothing: the end offsets
//     do not move either, so its last watermark still covers them. An
//     input partition with no record at all ends at offset 0 and needs no
//     watermark.
//
// The fact topics are written without transactions (ingest, import), so
// a caught-up position equals the log end offset.
//
// # Encoding
//
// One packed record per directory member in every membership partition,
// written in every poll that processed records (and once after each
// assignment): key "wm/off/<the member's lowest account partition>",
// value "<account partition>=<account offset>:<snapshot offset>,…". The
// time watermarks of earlier versions ("wm/<p>", "wm/set/<p>") are
// ignored.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/stream"
)

// inputPart names one partition of one directory input.
type inputPart struct {
	topic string
	part  int32
}

// marks is the writer side, kept by the directory on the runner's loop.
type marks struct {
	fresh   map[int32]bool // account partition → records processed since the last write
	written map[int32]bool // account partition → written since it was assigned

	// shared writes one position per partition number for both inputs,
	// the larger: the rule 1 forbids. Only the negative twin of
	// TestWatermarkPerInput sets it.
	shared bool
}

func newMarks() *marks {
	return &marks{fresh: map[int32]bool{}, written: map[int32]bool{}}
}

// observe notes that a record of account partition p (either input) was
// processed in this poll.
func (m *marks) observe(p int32) { m.fresh[p] = true }

// due reports whether this poll's Tick writes a watermark record: records
// were processed, or a partition was assigned since the last write.
func (m *marks) due(assigned []int32) bool {
	for _, p := range assigned {
		if m.fresh[p] || !m.written[p] {
			return true
		}
	}
	return false
}

// value is the packed watermark of every assigned account partition
// (sorted) at the positions of t; the partitions count as written.
func (m *marks) value(t stream.Tick) []byte {
	var value []byte
	for _, p := range t.Assigned {
		acc, ok1 := t.Position(TopicAccounts, p)
		snap, ok2 := t.Position(TopicSnapshot, p)
		if !ok1 || !ok2 {
			continue // not loaded: no promise for it
		}
		if m.shared {
			acc, snap = max(acc, snap), max(acc, snap)
		}
		if len(value) > 0 {
			value = append(value, ',')
		}
		value = strconv.AppendInt(value, int64(p), 10)
		value = append(value, '=')
		value = strconv.AppendInt(value, acc, 10)
		value = append(value, ':')
		value = strconv.AppendInt(value, snap, 10)
		delete(m.fresh, p)
		m.written[p] = true
	}
	return value
}

// key is the packed record's key for a member owning assigned (sorted).
func (m *marks) key(assigned []int32) []byte {
	return []byte(watermarkOffsets + strconv.Itoa(int(assigned[0])))
}

// drop forgets account partition p (revoked or reloaded).
func (m *marks) drop(p int32) {
	delete(m.fresh, p)
	delete(m.written, p)
}

// Ends are the log end offsets a record waits for: input topic (logical
// name) → partition → end offset.
type Ends map[string]map[int32]int64

// applyWatermark applies a watermark record of membership partition p to
// the reader side; ok is false when r is not a watermark record.
func (m *Members) applyWatermark(p int32, r *kgo.Record) (ok bool, err error) {
	key := string(r.Key)
	if !strings.HasPrefix(key, watermarkPrefix) {
		return false, nil
	}
	if !strings.HasPrefix(key, watermarkOffsets) {
		return true, nil // a time watermark of an earlier version
	}
	type mark struct {
		part      int32
		acc, snap int64
	}
	var parsed []mark
	for pair := range strings.SplitSeq(string(r.Value), ",") {
		ps, offs, found := strings.Cut(pair, "=")
		acc, snap, found2 := strings.Cut(offs, ":")
		ap, perr := strconv.ParseInt(ps, 10, 32)
		a, aerr := strconv.ParseInt(acc, 10, 64)
		s, serr := strconv.ParseInt(snap, 10, 64)
		if !found || !found2 || perr != nil || aerr != nil || serr != nil {
			return true, fmt.Errorf("watermark %q = %q: want <partition>=<offset>:<offset>,…", key, r.Value)
		}
		parsed = append(parsed, mark{int32(ap), a, s})
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	mp := m.part(p)
	moved := false
	for _, mk := range parsed {
		for _, in := range []inputPart{{TopicAccounts, mk.part}, {TopicSnapshot, mk.part}} {
			off := mk.acc
			if in.topic == TopicSnapshot {
				off = mk.snap
			}
			if off > mp.wm[in] { // rule 3: only up
				mp.wm[in] = off
				moved = true
			}
		}
	}
	if moved {
		close(m.changed)
		m.changed = make(chan struct{})
	}
	return true, nil
}

// Reached reports whether partition p's watermarks are at or past ends
// for every one of the accountPartitions: the directory has applied every
// fact below those offsets.
func (m *Members) Reached(p int32, accountPartitions int32, ends Ends) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reached(p, accountPartitions, ends)
}

// Wait blocks until Reached(p, accountPartitions, ends) or maxWait passes
// or ctx ends; it reports whether the watermarks were reached.
func (m *Members) Wait(ctx context.Context, p int32, accountPartitions int32, ends Ends, maxWait time.Duration) bool {
	var timer *time.Timer
	for {
		m.mu.Lock()
		ok := m.reached(p, accountPartitions, ends)
		ch := m.changed
		m.mu.Unlock()
		if ok {
			return true
		}
		if timer == nil {
			timer = time.NewTimer(maxWait)
			defer timer.Stop()
		}
		select {
		case <-ch:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

func (m *Members) reached(p, n int32, ends Ends) bool {
	mp := m.parts[p]
	for topic, byPart := range ends {
		for a := int32(0); a < n; a++ {
			end := byPart[a]
			if end == 0 {
				continue // no record, nothing to apply (rule 4)
			}
			if mp == nil || mp.wm[inputPart{topic, a}] < end {
				return false
			}
		}
	}
	return true
}
