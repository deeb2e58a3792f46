package directory

// The directory's watermarks: the one rule that puts every account fact
// logged before a customer (or product) event into that event's fan-out.
// Writer, encoding and reader are all in this file; docs/processing.md
// ("Ordering") tells the same story for operators.
//
// # The promise
//
// A watermark W of account partition a, read by a dispatcher in membership
// partition m, promises: every fact with a record timestamp below W in
// partition a of every directory input — portabilling.account a AND
// provbus.directory.snapshot a — has been applied, and its membership rows
// are in partition m before the record carrying W. A dispatcher releases a
// record with timestamp T once the watermarks of all account partitions in
// its membership partition are ≥ T (Members.Reached).
//
// # Why it holds
//
//  1. Per input, per partition. The directory remembers the newest
//     timestamp it processed for each input topic-partition apart
//     (marks.newest).
//     The inputs are separate logs read at their own pace: a snapshot
//     partition may be read to a newer time than an unread Account/New in
//     the account partition of the same number. The released time of
//     partition a is therefore the MINIMUM over its inputs, never the
//     maximum (the maximum released customer events before older account
//     facts were read: TestWatermarkPerInput and its twin).
//  2. Newest applied covers everything before it because record timestamps
//     are broker time: the domain topics and the snapshot topic are
//     created with message.timestamp.type=LogAppendTime (topology), so in
//     one partition a record appended later never carries an earlier
//     timestamp — not even a producer's retry of an old batch, which
//     CreateTime would stamp with the first attempt's clock. The skew
//     (DefaultSkew) only has to cover clocks that still differ: the
//     broker's against the directory's own for the caught-up rule below,
//     and topics created by hand with CreateTime.
//  3. Caught up means now. An input partition the runner found caught up
//     with its log end at Tick.Now has applied every record appended
//     before Now; anything appended later is stamped ≥ Now by the broker.
//     Its contribution is then Now (idle inputs do not hold anything back).
//  4. Rows before marks. Membership rows are written by Process and the
//     watermark record by Tick in the same transaction, after them; a
//     dispatcher reads membership partitions read_committed and in order,
//     so the rows a watermark covers are applied before it.
//  5. Only up. A released time never moves down (marks.wm, and the reader
//     keeps the maximum per account partition), so a stale packed record
//     left by an earlier assignment of the partitions changes nothing.
//
// # Encoding
//
// One packed record per directory member in every membership partition:
// key "wm/set/<the member's lowest account partition>", value
// "<account partition>=<unix ms>,…". Versions before the packed records
// wrote "wm/<account partition>" = "<unix ms>"; the reader still applies
// them.

import (
	"context"
	"fmt"
	"math"
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
	skew   int64    // ms
	inputs []string // the directory's input topics
	newest map[inputPart]int64
	fresh  map[int32]bool  // account partition → facts applied since it was last considered
	wm     map[int32]int64 // account partition → released time last written (ms)
	wrote  time.Time       // when a packed record was last written

	// shared keys every input by partition number alone, the rule before
	// #18. Only the negative twin of TestWatermarkPerInput sets it.
	shared bool
}

func newMarks(skew time.Duration, inputs []string) *marks {
	return &marks{skew: skew.Milliseconds(), inputs: inputs,
		newest: map[inputPart]int64{}, fresh: map[int32]bool{}, wm: map[int32]int64{}}
}

func (m *marks) key(topic string, p int32) inputPart {
	if m.shared {
		topic = ""
	}
	return inputPart{topic, p}
}

// observe notes that the record of input topic, partition p, with
// timestamp ts is processed (a fact or not: nothing older is unread).
func (m *marks) observe(topic string, p int32, ts time.Time) {
	k := m.key(topic, p)
	if ms := ts.UnixMilli(); ms > m.newest[k] {
		m.newest[k] = ms
	}
	m.fresh[p] = true
}

// release moves the released time of every assigned account partition as
// far as the inputs allow (rules 1 and 3 above) and reports whether one
// moved. A partition is considered when facts were applied to it since
// the last time, or every IdleHeartbeat, so an idle member writes at
// most four packed records a second.
func (m *marks) release(t stream.Tick) bool {
	caught := map[inputPart]bool{}
	for topic, ps := range t.CaughtUp {
		for _, p := range ps {
			caught[inputPart{topic, p}] = true
		}
	}
	heartbeat := t.Now.Sub(m.wrote) >= IdleHeartbeat
	now := t.Now.UnixMilli()
	moved := false
	for _, p := range t.Assigned {
		if !m.fresh[p] && !heartbeat {
			continue
		}
		delete(m.fresh, p)
		released := int64(math.MaxInt64)
		if m.shared {
			released = m.newest[m.key("", p)]
			all := true
			for _, in := range m.inputs {
				all = all && caught[inputPart{in, p}]
			}
			if all {
				released = max(released, now)
			}
		} else {
			for _, in := range m.inputs {
				k := inputPart{in, p}
				at := m.newest[k]
				if caught[k] {
					at = max(at, now)
				}
				released = min(released, at)
			}
		}
		if released -= m.skew; released > m.wm[p] {
			m.wm[p] = released
			moved = true
		}
	}
	if moved {
		m.wrote = t.Now
	}
	return moved
}

// record is the packed watermark record of the member owning assigned
// (sorted) account partitions.
func (m *marks) record(assigned []int32) *kgo.Record {
	var value []byte
	for i, p := range assigned {
		if i > 0 {
			value = append(value, ',')
		}
		value = strconv.AppendInt(value, int64(p), 10)
		value = append(value, '=')
		value = strconv.AppendInt(value, m.wm[p], 10)
	}
	return &kgo.Record{Key: []byte(watermarkSet + strconv.Itoa(int(assigned[0]))), Value: value}
}

// drop forgets account partition p (revoked or reloaded).
func (m *marks) drop(p int32) {
	for _, in := range m.inputs {
		delete(m.newest, m.key(in, p))
	}
	delete(m.fresh, p)
	delete(m.wm, p)
}

// applyWatermark applies a watermark record of membership partition p to
// the reader side; ok is false when r is not a watermark record.
func (m *Members) applyWatermark(p int32, r *kgo.Record) (ok bool, err error) {
	key := string(r.Key)
	if !strings.HasPrefix(key, watermarkPrefix) {
		return false, nil
	}
	var pairs []string
	if strings.HasPrefix(key, watermarkSet) {
		pairs = strings.Split(string(r.Value), ",")
	} else { // "wm/<partition>" = "<ms>", before the packed records
		pairs = []string{key[len(watermarkPrefix):] + "=" + string(r.Value)}
	}
	type mark struct {
		part int32
		ms   int64
	}
	parsed := make([]mark, 0, len(pairs))
	for _, pair := range pairs {
		ps, ms, found := strings.Cut(pair, "=")
		ap, perr := strconv.ParseInt(ps, 10, 32)
		v, verr := strconv.ParseInt(ms, 10, 64)
		if !found || perr != nil || verr != nil {
			return true, fmt.Errorf("watermark %q = %q: want <partition>=<unix ms>", key, r.Value)
		}
		parsed = append(parsed, mark{int32(ap), v})
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	mp := m.part(p)
	moved := false
	for _, mk := range parsed {
		if mk.ms > mp.wm[mk.part] { // rule 5: only up
			mp.wm[mk.part] = mk.ms
			moved = true
		}
	}
	if moved {
		close(m.changed)
		m.changed = make(chan struct{})
	}
	return true, nil
}

// Reached reports whether partition p's watermarks from every one of the
// accountPartitions are at or past ts: the directory has applied every
// account fact with an earlier timestamp.
func (m *Members) Reached(p int32, accountPartitions int32, ts time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reached(p, accountPartitions, ts.UnixMilli())
}

// Wait blocks until Reached(p, accountPartitions, ts) or maxWait passes
// or ctx ends; it reports whether the watermark was reached.
func (m *Members) Wait(ctx context.Context, p int32, accountPartitions int32, ts time.Time, maxWait time.Duration) bool {
	want := ts.UnixMilli()
	var timer *time.Timer
	for {
		m.mu.Lock()
		ok := m.reached(p, accountPartitions, want)
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

func (m *Members) reached(p, n int32, want int64) bool {
	mp := m.parts[p]
	if mp == nil {
		return false
	}
	for a := int32(0); a < n; a++ {
		if mp.wm[a] < want {
			return false
		}
	}
	return true
}
