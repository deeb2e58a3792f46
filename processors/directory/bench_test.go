package directory

import (
	"runtime"
	"testing"
)

// BenchmarkAccountTableMemory reports the heap bytes per account of the
// directory's account table (account → customer, product, closed).
func BenchmarkAccountTableMemory(b *testing.B) {
	const accounts = 200_000
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		d := New()
		for a := int64(1); a <= accounts; a++ {
			p := int32(a % 12)
			if d.tables[p] == nil {
				d.tables[p] = map[int64]Row{}
			}
			d.tables[p][a] = Row{Customer: a / 10, Product: 7}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/accounts, "bytes/account")
		runtime.KeepAlive(d)
	}
}
