package route

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// BackfillStats says what a backfill did.
type BackfillStats struct {
	Read       int // input records read
	Routed     int // records written to the handler topic
	Duplicates int // skipped: event id already in the handler topic or seen earlier in the backfill
	Poison     int // skipped: could not be decoded or routed (the live router dead-lettered them)
}

// idleStop ends a read once a poll stays empty this long: the tail of a
// transactional topic is a commit marker read_committed never delivers.
const idleStop = time.Second

// Backfill re-routes the history of every router input from the time from
// up to the end offsets at its start to handler h alone, for a handler added
// to the catalog after the events happened.
//
// It keeps its own de-duplication, separate from the live router's (which
// records what was routed, not to whom): every event id already in h's
// topic, and every id it wrote itself, is skipped. So an event the live
// router already delivered to h (it runs the new catalog too) is not sent
// twice, and re-running a backfill that stopped half-way resumes instead of
// duplicating. cl must be a plain (non-group) client; h.Topic must be
// prepared on codec with records.Use. Topics are read and written in the
// namespace ns (config topics.prefix).
func Backfill(ctx context.Context, cl *kgo.Client, codec *schemas.Codec, cat *topology.Catalog, ns topology.Namespace, h *topology.Handler, from time.Time) (BackfillStats, error) {
	var st BackfillStats
	if h == nil || h.Topic == "" {
		return st, errors.New("route backfill: handler has no topic (processors cannot be back-filled)")
	}
	seen := map[uint64]struct{}{}
	var ev schemas.Event
	err := readRange(ctx, cl, []string{ns.Topic(h.Topic)}, time.Time{}, func(r *kgo.Record) error {
		if _, err := codec.Decode(ctx, r.Value, &ev); err == nil {
			seen[Hash(ev.EventID)] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("route backfill: read %s: %w", h.Topic, err)
	}
	router := New(cat, OnlyHandler(h))
	var (
		mu      sync.Mutex
		prodErr error
		outs    []Out
	)
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			prodErr = errors.Join(prodErr, err)
			mu.Unlock()
		}
	}
	err = readRange(ctx, cl, ns.Topics(Inputs(cat)), from, func(r *kgo.Record) error {
		st.Read++
		if _, err := codec.Decode(ctx, r.Value, &ev); err != nil {
			if schemas.PoisonReason(err) != "" {
				st.Poison++
				return nil
			}
			return err
		}
		var err error
		if outs, err = router.Route(outs[:0], &ev, r.Key); err != nil {
			st.Poison++
			return nil
		}
		for _, o := range outs {
			h := Hash(o.Event.EventID)
			if _, dup := seen[h]; dup {
				st.Duplicates++
				continue
			}
			seen[h] = struct{}{}
			rec, err := records.Event(codec, o.Topic, string(o.Key), o.Event)
			if err != nil {
				return err
			}
			rec.Topic = ns.Topic(o.Topic)
			cl.Produce(ctx, rec, promise)
			st.Routed++
		}
		return nil
	})
	if ferr := cl.Flush(ctx); err == nil {
		err = ferr
	}
	if err == nil {
		err = prodErr
	}
	if err != nil {
		return st, fmt.Errorf("route backfill %s: %w", h.Name, err)
	}
	return st, nil
}

// readRange calls fn for every committed record of topics from the first
// offset at or after from (zero: the start) up to the end offsets taken when
// it starts, partition by partition in order.
func readRange(ctx context.Context, cl *kgo.Client, topics []string, from time.Time, fn func(*kgo.Record) error) error {
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("end offsets: %w", err)
	}
	var starts kadm.ListedOffsets
	if from.IsZero() {
		starts, err = adm.ListStartOffsets(ctx, topics...)
	} else {
		starts, err = adm.ListOffsetsAfterMilli(ctx, from.UnixMilli(), topics...)
	}
	if err != nil {
		return fmt.Errorf("start offsets: %w", err)
	}
	want := map[string]map[int32]kgo.Offset{}
	stop := map[string]map[int32]int64{}
	left := 0
	ends.Each(func(e kadm.ListedOffset) {
		s, ok := starts.Lookup(e.Topic, e.Partition)
		if !ok || s.Err != nil || s.Offset < 0 || s.Offset >= e.Offset {
			return
		}
		if want[e.Topic] == nil {
			want[e.Topic], stop[e.Topic] = map[int32]kgo.Offset{}, map[int32]int64{}
		}
		want[e.Topic][e.Partition] = kgo.NewOffset().At(s.Offset)
		stop[e.Topic][e.Partition] = e.Offset
		left++
	})
	if left == 0 {
		return nil
	}
	cl.AddConsumePartitions(want)
	defer cl.PurgeTopicsFromConsuming(topics...)
	for left > 0 {
		pctx, cancel := context.WithTimeout(ctx, idleStop)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		if fs.NumRecords() == 0 {
			return nil
		}
		var ferr error
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			end, live := stop[p.Topic][p.Partition]
			for _, r := range p.Records {
				if !live || r.Offset >= end || ferr != nil {
					break
				}
				ferr = fn(r)
			}
			if n := len(p.Records); live && n > 0 && p.Records[n-1].Offset >= end-1 {
				delete(stop[p.Topic], p.Partition)
				left--
			}
		})
		if ferr != nil {
			return ferr
		}
	}
	return nil
}
