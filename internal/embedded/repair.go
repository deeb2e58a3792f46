package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// runningMarker exists in DataDir while a broker runs on it; finding it at
// start means the last run did not reach Close.
const runningMarker = "kafka.running"

// repairTimeout bounds the post-crash scan, which reads every partition.
const repairTimeout = 30 * time.Second

func markRunning(dataDir string) error {
	path := filepath.Join(dataDir, runningMarker)
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("embedded: write %s: %w", path, err)
	}
	return nil
}

func crashedBefore(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, runningMarker))
	return err == nil
}

func clearRunning(dataDir string) error {
	if err := os.Remove(filepath.Join(dataDir, runningMarker)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("embedded: remove running marker: %w", err)
	}
	return nil
}

// tp is a topic partition.
type tp struct {
	topic     string
	partition int32
}

// abortCrashedTxns writes the abort markers a crash left out.
//
// kfake reloads a transaction that was open at the crash as aborted, but
// only in memory: no ABORT control batch is written. Clients (kgo and the
// Java client alike) skip a producer's transactional batches from an
// aborted transaction's first offset until they meet that producer's ABORT
// marker, so without it every later committed transaction of the same
// producer id (a processor restarting with its transactional id) is
// silently skipped by read_committed consumers. We find the transactions
// still open at the end of each log and close them with an ABORT marker,
// before any client connects.
func abortCrashedTxns(ctx context.Context, brokers []string, log *zap.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, repairTimeout)
	defer cancel()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.KeepControlRecords(),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
	)
	if err != nil {
		return fmt.Errorf("repair client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx)
	if err != nil {
		return fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx)
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	consume := make(map[string]map[int32]kgo.Offset)
	end := make(map[tp]int64)
	ends.Each(func(e kadm.ListedOffset) {
		s, ok := starts.Lookup(e.Topic, e.Partition)
		if e.Err != nil || !ok || s.Err != nil || e.Offset <= s.Offset {
			return
		}
		if consume[e.Topic] == nil {
			consume[e.Topic] = make(map[int32]kgo.Offset)
		}
		consume[e.Topic][e.Partition] = kgo.NewOffset().At(s.Offset)
		end[tp{e.Topic, e.Partition}] = e.Offset
	})
	if len(end) == 0 {
		return nil
	}
	cl.AddConsumePartitions(consume)

	open := make(map[tp]map[int64]int16) // partition → producer id → epoch
	for len(end) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			// A partition whose tail was compacted away never shows its
			// last offset. Refusing to start over it would be worse
			// than leaving it unrepaired, so say which and go on.
			var unread []string
			for k := range end {
				unread = append(unread, fmt.Sprintf("%s[%d]", k.topic, k.partition))
			}
			log.Warn("post-crash scan did not reach the end of some partitions; they are not repaired", zap.Strings("partitions", unread))
			break
		}
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			k := tp{p.Topic, p.Partition}
			for _, r := range p.Records {
				switch {
				case r.Attrs.IsControl():
					delete(open[k], r.ProducerID)
				case r.Attrs.IsTransactional():
					if open[k] == nil {
						open[k] = make(map[int64]int16)
					}
					open[k][r.ProducerID] = r.ProducerEpoch
				}
				if r.Offset+1 >= end[k] {
					delete(end, k)
				}
			}
		})
	}

	req := kmsg.NewPtrWriteTxnMarkersRequest()
	for k, pids := range open {
		if _, unread := end[k]; unread {
			continue // an open transaction here may yet be closed further on
		}
		for pid, epoch := range pids {
			m := kmsg.NewWriteTxnMarkersRequestMarker()
			m.ProducerID, m.ProducerEpoch, m.Committed = pid, epoch, false
			t := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			t.Topic, t.Partitions = k.topic, []int32{k.partition}
			m.Topics = append(m.Topics, t)
			req.Markers = append(req.Markers, m)
			log.Warn("aborting transaction left open by a crash",
				zap.String("topic", k.topic), zap.Int32("partition", k.partition),
				zap.Int64("producer_id", pid), zap.Int16("epoch", epoch))
		}
	}
	if len(req.Markers) == 0 {
		return nil
	}
	// The scan may have used up ctx; the markers still deserve a try.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer wcancel()
	resp, err := req.RequestWith(wctx, cl)
	if err != nil {
		return fmt.Errorf("write abort markers: %w", err)
	}
	for _, m := range resp.Markers {
		for _, t := range m.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					return fmt.Errorf("write abort marker %s[%d] producer %d: %w", t.Topic, p.Partition, m.ProducerID, kerr.ErrorForCode(p.ErrorCode))
				}
			}
		}
	}
	return nil
}
