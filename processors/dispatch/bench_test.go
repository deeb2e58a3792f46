package dispatch

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/internal/registry"
	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// benchCodec returns a codec on an in-memory registry with the inherited
// topic in use.
func benchCodec(b *testing.B) *schemas.Codec {
	b.Helper()
	reg, err := registry.New("")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { reg.Close() })
	if _, err := reg.Listen("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		b.Fatal(err)
	}
	codec := schemas.NewCodec(cl)
	if err := records.Use(context.Background(), codec, TopicInherited); err != nil {
		b.Fatal(err)
	}
	return codec
}

// BenchmarkDispatch measures the dispatcher's per-poll work for one parent
// event — membership look-up, inherited events, Avro encoding into reused
// slabs — at fan-out 1, 10 and 100 000, without a broker. It reports
// inherited events per second.
func BenchmarkDispatch(b *testing.B) {
	codec := benchCodec(b)
	cat, err := topology.Default()
	if err != nil {
		b.Fatal(err)
	}
	rules := cat.InheritedFrom("Customer/Status/Suspend")
	for _, fan := range []int{1, 10, 100_000} {
		b.Run(fmt.Sprintf("fanout=%d", fan), func(b *testing.B) {
			m := directory.NewMembers()
			for a := 0; a < fan; a++ {
				_ = m.Apply(0, &kgo.Record{Key: []byte("1/" + strconv.Itoa(a+1)), Value: []byte(`{"closed":false}`)})
			}
			cust := int64(1)
			parent := &schemas.Event{EventID: "parent", Source: "portabilling", EventType: "Customer/Status/Suspend",
				Origin: schemas.OriginDirect, ICustomer: &cust, Attributes: map[string]string{"balance": "0"}, Payload: `{"i_customer":1}`}
			var buf []directory.Member
			slab := make([]byte, 0, 256<<10)
			b.ReportAllocs()
			b.ResetTimer()
			events := 0
			for i := 0; i < b.N; i++ {
				buf = m.Accounts(0, cust, buf[:0])
				for _, rule := range rules {
					for j, mm := range buf {
						child := Inherit(parent, rule, mm.Account, j, len(buf))
						if len(slab) > cap(slab)-4096 {
							slab = make([]byte, 0, 256<<10)
						}
						if slab, err = codec.Encode(slab, TopicInherited, &child); err != nil {
							b.Fatal(err)
						}
						_ = []byte(strconv.FormatInt(mm.Account, 10))
						events++
					}
				}
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkDirectoryMemory reports the heap bytes per account of the
// dispatcher's membership table (one customer-members row per account,
// customers of 1, 10 and 1 000 accounts).
func BenchmarkDirectoryMemory(b *testing.B) {
	for _, per := range []int{1, 10, 1000} {
		b.Run(fmt.Sprintf("accounts-per-customer=%d", per), func(b *testing.B) {
			const accounts = 200_000
			for i := 0; i < b.N; i++ {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				m := directory.NewMembers()
				for a := 0; a < accounts; a++ {
					owner := a/per + 1
					key := strconv.Itoa(owner) + "/" + strconv.Itoa(a+1)
					_ = m.Apply(int32(owner%12), &kgo.Record{Key: []byte(key), Value: []byte(`{"closed":false}`)})
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/accounts, "bytes/account")
				runtime.KeepAlive(m)
			}
		})
	}
}
