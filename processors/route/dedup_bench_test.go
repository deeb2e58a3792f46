package route

import (
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// benchIDs is how many ids the de-duplication benchmarks remember: 1 M by
// default, PROVBUS_DEDUP_BENCH_IDS=10000000 for the 10 M figures of
// BENCHMARKS.md (about 1 GB of heap at the peak).
func benchIDs(b *testing.B) int {
	if v := os.Getenv("PROVBUS_DEDUP_BENCH_IDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("PROVBUS_DEDUP_BENCH_IDS=%q", v)
		}
		return n
	}
	return 1_000_000
}

// fill admits n ids into one partition over the 7-day window, one
// transaction per 10 000 ids as the runner polls, and returns the
// changelog as compaction leaves it.
func fill(d *Dedup, tp Partition, n int) *changelog {
	log := &changelog{vals: map[string][]byte{}}
	step := 7 * 24 * time.Hour / time.Duration(n)
	for i := 0; i < n; i++ {
		d.Admit(tp, "espf-"+strconv.Itoa(i), t0.Add(time.Duration(i)*step))
		if i%10000 == 9999 || i == n-1 {
			log.apply(d.Changes(nil))
			d.Commit()
		}
	}
	return log
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkDedupMemory reports the heap each remembered id costs (bytes/id)
// with the ids spread over the whole window, as a steady stream leaves
// them.
func BenchmarkDedupMemory(b *testing.B) {
	n := benchIDs(b)
	tp := Partition{"portabilling.account", 0}
	var perID float64
	for i := 0; i < b.N; i++ {
		before := heap()
		d := NewDedup(7*24*time.Hour, WithMaxIDs(n))
		fill(d, tp, n)
		after := heap()
		if d.Len(tp) != n {
			b.Fatalf("%d ids remembered, want %d", d.Len(tp), n)
		}
		perID = float64(after-before) / float64(n)
		runtime.KeepAlive(d)
	}
	b.ReportMetric(perID, "bytes/id")
	b.ReportMetric(float64(n), "ids")
}

// BenchmarkDedupRestore reports how long a partition holding n ids takes
// to rebuild from its compacted changelog (the Restore calls only; reading
// the topic is the runner's and the broker's part).
func BenchmarkDedupRestore(b *testing.B) {
	n := benchIDs(b)
	tp := Partition{"portabilling.account", 0}
	log := fill(NewDedup(7*24*time.Hour, WithMaxIDs(n)), tp, n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := NewDedup(7*24*time.Hour, WithMaxIDs(n))
		for _, k := range log.order {
			if _, err := r.Restore([]byte(k), log.vals[k]); err != nil {
				b.Fatal(err)
			}
		}
		if r.Len(tp) != n {
			b.Fatalf("restored %d ids, want %d", r.Len(tp), n)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/restore")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/id")
	b.ReportMetric(float64(n), "ids")
}
