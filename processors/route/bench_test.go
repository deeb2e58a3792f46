package route

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/provbus/provbus/internal/embedded"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
)

// BenchmarkRoute measures the pure core: de-duplication and fan-out of a
// mix of seed 000 events (no encoding). Reported: events in and records
// out per second.
func BenchmarkRoute(b *testing.B) {
	benchRoute(b, nil)
}

// BenchmarkRouteEncode adds the Avro encoding of the output records as the
// runner does it (stream.Output.EventTo): one encoding per event, reused
// behind each handler topic's schema id.
func BenchmarkRouteEncode(b *testing.B) {
	ctx := context.Background()
	ec, err := embedded.Start(ctx, embedded.Config{RegistryAddr: "127.0.0.1:0", Registry: true})
	if err != nil {
		b.Fatal(err)
	}
	defer ec.Close()
	reg, err := sr.NewClient(sr.URLs(ec.RegistryURL()))
	if err != nil {
		b.Fatal(err)
	}
	codec := schemas.NewCodec(reg)
	if err := records.Use(ctx, codec, Outputs(catalog(b))...); err != nil {
		b.Fatal(err)
	}
	benchRoute(b, codec)
}

func benchRoute(b *testing.B, codec *schemas.Codec) {
	c := catalog(b)
	p := NewProcessor(c, 7*24*time.Hour)
	cases := seedCases(b, c)
	evs := make([]*schemas.Event, len(cases))
	for i, tc := range cases {
		evs[i] = testEvent("", tc.event, tc.origin)
	}
	var (
		outs []Out
		buf  []byte
		out  int
		err  error
	)
	ts := time.UnixMilli(1_700_000_000_000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := evs[i%len(evs)]
		ev.EventID = "espf-" + strconv.Itoa(i) // every event new: the worst case for the seen-set
		tp := Partition{"portabilling.account", int32(i % 12)}
		outs, err = p.Process(outs[:0], tp, []byte("42"), ts.Add(time.Duration(i)*time.Millisecond), ev)
		if err != nil {
			b.Fatal(err)
		}
		if codec != nil {
			buf = buf[:0]
			var first []byte
			for j, o := range outs {
				if buf, err = codec.EncodeLike(buf, o.Topic, o.Event, first, outs[0].Topic); err != nil {
					b.Fatal(err)
				}
				if j == 0 {
					first = buf
				}
			}
		}
		out += len(outs)
		if i%10000 == 9999 { // one transaction per 10 000 records, as the runner polls
			p.Dedup.Changes(nil)
			p.Dedup.Commit()
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/sec, "events/s")
	b.ReportMetric(float64(out)/sec, "records/s")
}
