package benchmark

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/processors/directory"
)

// lineDirectory loads cfg.DirectoryAccounts accounts through the real
// directory processor, then restores its account table from the changelog
// into a fresh directory the way the runner does on assignment (every
// changelog record through the table's Apply), measuring the time and the
// heap the restored state holds. The broker runs in this process, so RSS
// would count the broker's copy of the topics: the heap retained by the
// restored table is the honest per-account figure. The membership tables
// the dispatchers follow are measured the same way.
func lineDirectory(ctx context.Context, cfg Config, w Wiring) ([]Row, error) {
	c, err := startCluster(ctx, cfg.Catalog, cfg.Partitions)
	if err != nil {
		return nil, err
	}
	defer c.close()
	n := cfg.DirectoryAccounts
	dir := startProcs(ctx, w, c, "directory")
	start := time.Now()
	// Realistic shape: 10 accounts per customer on average.
	if err := loadDirectory(ctx, c, n/10, 10, 1); err != nil {
		dir.stop()
		return nil, err
	}
	load := time.Since(start)
	if err := dir.stop(); err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Log, "bench:   directory applied %d snapshots in %s (%.0f/s)\n", n, load.Round(time.Millisecond), float64(n)/load.Seconds())

	// provbus: the directory's own Apply.
	d := directory.New()
	apply := d.Spec().Tables[0].Apply
	pbTime, pbHeap, err := restore(ctx, c, directory.TopicAccountTable, n, func(r *kgo.Record) error { return apply(r.Partition, r) })
	if err != nil {
		return nil, err
	}
	runtime.KeepAlive(d)

	// Baseline: one plain map, the value decoded with encoding/json.
	bare := map[int64]directory.Row{}
	bTime, bHeap, err := restore(ctx, c, directory.TopicAccountTable, n, func(r *kgo.Record) error {
		acc, err := strconv.ParseInt(string(r.Key), 10, 64)
		if err != nil {
			return err
		}
		var row directory.Row
		if err := json.Unmarshal(r.Value, &row); err != nil {
			return err
		}
		bare[acc] = row
		return nil
	})
	if err != nil {
		return nil, err
	}
	runtime.KeepAlive(bare)

	// The membership tables (customer and product) the dispatchers keep.
	cm, pm := directory.NewMembers(), directory.NewMembers()
	_, cmHeap, err := restore(ctx, c, directory.TopicCustomerTable, n, func(r *kgo.Record) error { return cm.Apply(r.Partition, r) })
	if err != nil {
		return nil, err
	}
	_, pmHeap, err := restore(ctx, c, directory.TopicProductTable, n, func(r *kgo.Record) error { return pm.Apply(r.Partition, r) })
	if err != nil {
		return nil, err
	}
	runtime.KeepAlive(cm)
	runtime.KeepAlive(pm)

	step := fmt.Sprintf("5. directory, %d accounts", n)
	return []Row{
		{Step: step, Metric: "account table heap/account", Provbus: pbHeap / float64(n), Baseline: bHeap / float64(n), Unit: "B", Lower: true, Target: "≤ 100 B"},
		{Step: step, Metric: "restore from changelog", Provbus: pbTime.Seconds(), Baseline: bTime.Seconds(), Unit: "s", Lower: true, Target: "≤ 5 s"},
		{Step: step, Metric: "membership tables heap/account", Provbus: (cmHeap + pmHeap) / float64(n), Unit: "B", Lower: true,
			Note: "customer + product members, held by the dispatcher"},
	}, nil
}

// restore reads a changelog from the start, read_committed, applying
// records until want have been applied; it returns the time taken and the
// heap retained afterwards (after a GC, records freed).
func restore(ctx context.Context, c *cluster, topic string, want int, apply func(*kgo.Record) error) (time.Duration, float64, error) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	cl, err := c.dial(kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(8<<20))
	if err != nil {
		return 0, 0, err
	}
	seen := 0
	deadline := time.Now().Add(3 * time.Minute)
	for seen < want {
		if time.Now().After(deadline) {
			cl.Close()
			return 0, 0, fmt.Errorf("%s: restored %d of %d records", topic, seen, want)
		}
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			cl.Close()
			return 0, 0, err
		}
		var aerr error
		fs.EachRecord(func(r *kgo.Record) {
			if aerr == nil && len(r.Key) > 0 && r.Key[0] != 'w' { // skip membership watermarks "wm/…"
				aerr = apply(r)
				seen++
			}
		})
		if aerr != nil {
			cl.Close()
			return 0, 0, aerr
		}
	}
	elapsed := time.Since(start)
	cl.Close()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return elapsed, float64(int64(after.HeapAlloc) - int64(before.HeapAlloc)), nil
}
