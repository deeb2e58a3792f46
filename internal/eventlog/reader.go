package eventlog

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Dial builds a Kafka client with the connection settings of the caller
// (TLS, SASL, logging) plus the given options. The commands pass the
// configured client constructor, tests one with the embedded broker's seeds.
type Dial func(opts ...kgo.Opt) (*kgo.Client, error)

// Progress is updated by a read while it runs; another goroutine may load
// it at any time (the progress bar does).
type Progress struct {
	Total   atomic.Int64 // offsets in the planned ranges
	Offsets atomic.Int64 // offsets passed so far
	Records atomic.Int64 // records handed to the handler
}

// readOpts are the consumer options of a bounded read: exact partitions and
// offsets, committed data only, and control records kept, because in a
// transactional topic the last offset of a range may be a commit marker
// and seeing it is how the reader knows the partition is finished.
func readOpts(ranges []Range) []kgo.Opt {
	parts := map[string]map[int32]kgo.Offset{}
	for _, r := range ranges {
		if parts[r.Topic] == nil {
			parts[r.Topic] = map[int32]kgo.Offset{}
		}
		parts[r.Topic][r.Partition] = kgo.NewOffset().At(r.Start)
	}
	return []kgo.Opt{
		kgo.ConsumePartitions(parts),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxPartitionBytes(8 << 20),
	}
}

// Read fetches the records of ranges and calls fn with each data record
// inside its range, partition by partition in offset order (no order across
// partitions). It returns once every range is read, when fn fails, or when
// ctx ends.
func Read(ctx context.Context, dial Dial, ranges []Range, prog *Progress, fn func(*kgo.Record) error) error {
	if len(ranges) == 0 {
		return nil
	}
	cl, err := dial(readOpts(ranges)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	type tp struct {
		topic string
		part  int32
	}
	left := make(map[tp]Range, len(ranges))
	for _, r := range ranges {
		left[tp{r.Topic, r.Partition}] = r
		if prog != nil {
			prog.Total.Add(r.Len())
		}
	}
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("fetch %s[%d]: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		var done map[string][]int32
		var herr error
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			k := tp{p.Topic, p.Partition}
			r, ok := left[k]
			if !ok || herr != nil {
				return
			}
			passed := int64(0)
			for _, rec := range p.Records {
				if rec.Offset >= r.End {
					break
				}
				passed = rec.Offset + 1 - r.Start
				if !rec.Attrs.IsControl() {
					if prog != nil {
						prog.Records.Add(1)
					}
					if herr = fn(rec); herr != nil {
						return
					}
				}
			}
			if prog != nil && passed > 0 {
				prog.Offsets.Add(passed)
			}
			if n := len(p.Records); n > 0 && p.Records[n-1].Offset >= r.End-1 {
				delete(left, k)
				if done == nil {
					done = map[string][]int32{}
				}
				done[p.Topic] = append(done[p.Topic], p.Partition)
			} else if n > 0 {
				// Progress counts from the last offset seen, so the
				// next batch adds only its own share.
				r.Start = p.Records[n-1].Offset + 1
				left[k] = r
			}
		})
		if herr != nil {
			return herr
		}
		if done != nil {
			// Stop fetching what is finished so the remaining
			// partitions get the whole fetch budget.
			cl.RemoveConsumePartitions(done)
		}
	}
	return nil
}
