package test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/schemas"
)

// The one exactly-once checker of the suite: an expected set of (topic,
// event id), each in an order lane, against what a read_committed reader
// got. Every exactly-once and no-loss test, and its negative twin, counts
// with it, so a twin that fails proves the same code can see the failure.

// outRec is one decoded output record.
type outRec struct {
	topic     string
	partition int32
	offset    int64
	key       string
	pid       int64 // producer id, to tell writers apart (#5)
	epoch     int16 // producer epoch: a re-initialised producer is a new writer
	ev        schemas.Event
}

// eoExpect is the expected output. A lane is the unit of ordering: the
// records of one key that come from one input partition in one order
// (e.g. "handler.iptv|42|INHERITED"); records of different lanes may
// interleave freely.
type eoExpect struct {
	want  map[string]string   // topic|id → lane
	lanes map[string][]string // lane → ids in expected order
}

func newExpect() *eoExpect {
	return &eoExpect{want: map[string]string{}, lanes: map[string][]string{}}
}

// add expects id once in topic, after every id added before to lane.
func (e *eoExpect) add(topic, lane, id string) {
	k := topic + "|" + id
	if _, dup := e.want[k]; dup {
		return
	}
	e.want[k] = lane
	e.lanes[lane] = append(e.lanes[lane], id)
}

func (e *eoExpect) len() int { return len(e.want) }

// eoResult is what the checker counted.
type eoResult struct {
	expected, read, dups, missing, unexpected, outOfOrder int
}

func (r eoResult) String() string {
	return fmt.Sprintf("expected %d, read %d, %d duplicates, %d missing, %d unexpected, %d out of order",
		r.expected, r.read, r.dups, r.missing, r.unexpected, r.outOfOrder)
}

// ok is exactly once, complete and in per-lane order.
func (r eoResult) ok() bool {
	return r.dups == 0 && r.missing == 0 && r.unexpected == 0 && r.outOfOrder == 0
}

// checkEO compares got (in offset order per partition) with e. A record
// is a duplicate when its (topic, id) was already read, unexpected when e
// does not list it; a lane is out of order when a first occurrence comes
// after one the lane expects later.
func checkEO(e *eoExpect, got []outRec) eoResult {
	res := eoResult{expected: e.len(), read: len(got)}
	seen := map[string]bool{}
	pos := map[string]map[string]int{} // lane → id → index
	last := map[string]int{}           // lane → highest index read
	for _, r := range got {
		k := r.topic + "|" + r.ev.EventID
		if seen[k] {
			res.dups++
			continue
		}
		seen[k] = true
		lane, ok := e.want[k]
		if !ok {
			res.unexpected++
			continue
		}
		if pos[lane] == nil {
			pos[lane] = map[string]int{}
			for i, id := range e.lanes[lane] {
				pos[lane][id] = i + 1
			}
		}
		i := pos[lane][r.ev.EventID]
		if i < last[lane] {
			res.outOfOrder++
		} else {
			last[lane] = i
		}
	}
	for k := range e.want {
		if !seen[k] {
			res.missing++
		}
	}
	return res
}

// ids is the set of event ids of got with their counts: the no-loss
// checks of the ingest tests (2xx ⊆ Kafka, exactly once).
func ids(got []outRec) map[string]int {
	n := map[string]int{}
	for _, r := range got {
		n[r.ev.EventID]++
	}
	return n
}

// readOut reads topics from the start under read_committed until want
// distinct (topic, id) pairs arrived and nothing new came for settle, or
// timeout passed. Values are decoded with codec; undecodable ones fail.
// opts override the reader's (kgo.FetchIsolationLevel(kgo.ReadUncommitted())
// shows aborted records too).
func readOut(brokers []string, codec *schemas.Codec, topics []string, want int, settle, timeout time.Duration, opts ...kgo.Opt) ([]outRec, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted())}, opts...)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []outRec
	distinct := map[string]bool{}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		wait := time.Until(deadline)
		if len(distinct) >= want {
			wait = settle
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		var derr error
		fs.EachRecord(func(r *kgo.Record) {
			var ev schemas.Event
			if _, err := codec.Decode(context.Background(), r.Value, &ev); err != nil {
				derr = fmt.Errorf("decode %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
				return
			}
			n++
			distinct[r.Topic+"|"+ev.EventID] = true
			out = append(out, outRec{topic: r.Topic, partition: r.Partition, offset: r.Offset, key: string(r.Key),
				pid: r.ProducerID, epoch: r.ProducerEpoch, ev: ev})
		})
		if derr != nil {
			return out, derr
		}
		if n == 0 && len(distinct) >= want {
			break
		}
	}
	return out, nil
}

// laneOf is the lane of an output record under the pipeline tests'
// convention: topic, key and origin.
func laneOf(topic, key string, origin string) string {
	return strings.Join([]string{topic, key, origin}, "|")
}

// dupSample describes up to n duplicates of got (where each copy is), for
// the log of a failed exactly-once test.
func dupSample(got []outRec, n int) string {
	first := map[string]outRec{}
	var out []string
	for _, r := range got {
		k := r.topic + "|" + r.ev.EventID
		f, dup := first[k]
		if !dup {
			first[k] = r
			continue
		}
		if len(out) < n {
			out = append(out, fmt.Sprintf("%s %s at %d@%d (pid %d) and %d@%d (pid %d)",
				r.topic, r.ev.EventID, f.partition, f.offset, f.pid, r.partition, r.offset, r.pid))
		}
	}
	return strings.Join(out, "; ")
}
