package eventlog

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/cputime"
	"github.com/provbus/provbus/schemas"
)

// benchEvent is a realistic account event: a dozen attributes and the
// original JSON payload, as the PortaBilling edge writes them.
func benchEvent(i int, at time.Time) *schemas.Event {
	ev := accountEvent(fmt.Sprintf("espf-%09d", i), "Account/BalanceChanged", int64(1000+i%5000), int64(10+i%300), at)
	ev.IEnv = i64(1)
	ev.Attributes = map[string]string{
		"i_env": "1", "i_account": strconv.Itoa(1000 + i%5000), "i_customer": strconv.Itoa(10 + i%300),
		"balance": "12.34", "prev_balance": "10.00", "currency": "EUR", "credit_limit": "100",
		"id": "4420" + strconv.Itoa(i), "billing_model": "1", "blocked": "N", "status": "active", "i_product": "3",
	}
	ev.Payload = `{"event_type":"Account/BalanceChanged","variables":{"i_env":1,"i_account":` + strconv.Itoa(1000+i%5000) +
		`,"balance":"12.34","prev_balance":"10.00","currency":"EUR"},"i_event":` + strconv.Itoa(i) + `}`
	return ev
}

// BenchmarkReplayNDJSON measures replay to NDJSON in records/s.
//
//   - decode: the per-record path alone (header pre-check, Avro decode into
//     one reused Event, filter, NDJSON append) over records already fetched.
//   - kfake: the whole replay of a topic on the embedded broker — plan,
//     fetch, decode, filter, write — PROVBUS_BENCH_RECORDS records (default
//     200 000) loaded once.
//
// Run with -cpu 1 for the one-core figure in BENCHMARKS.md.
func BenchmarkReplayNDJSON(b *testing.B) {
	c := startCluster(b)
	tp, hot := topic("portabilling.account"), topic("portabilling.account")
	c.create(1, tp, hot)
	at := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)

	b.Run("decode", func(b *testing.B) {
		rs := make([]*kgo.Record, 4096)
		for i := range rs {
			rs[i] = c.rec(hot, "k", at, benchEvent(i, at))
		}
		f := &Filter{Origin: "direct"}
		f.Compile(nil)
		w, _ := NewWriter(FormatNDJSON, io.Discard, WriterOptions{})
		p := &Pipeline{Codec: c.codec, Filter: f, Out: w}
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := p.Handle(ctx, rs[i%len(rs)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})

	n, loaded := 200_000, false
	if s := os.Getenv("PROVBUS_BENCH_RECORDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	b.Run("kfake", func(b *testing.B) {
		// The testing package runs this body more than once; the
		// topic is filled the first time only.
		if !loaded {
			load(b, c, tp, n, at)
			loaded = true
		}
		f := &Filter{Origin: "direct"}
		f.Compile(nil)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			w, _ := NewWriter(FormatNDJSON, io.Discard, WriterOptions{})
			p := &Pipeline{Codec: c.codec, Filter: f, Out: w}
			if err := Replay(context.Background(), c.dial, []string{tp}, p, nil); err != nil {
				b.Fatal(err)
			}
			if p.Stats.Written != int64(n) {
				b.Fatalf("wrote %d of %d", p.Stats.Written, n)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	})
}

// load produces n records to tp in large batches, 1 ms apart.
func load(b *testing.B, c *cluster, tp string, n int, at time.Time) {
	b.Helper()
	start := time.Now()
	cl, err := c.dial(kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(50_000))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	const chunk = 20_000
	rs := make([]*kgo.Record, 0, chunk)
	for i := 0; i < n; i++ {
		rs = append(rs, c.rec(tp, strconv.Itoa(i%5000), at.Add(time.Duration(i)*time.Millisecond), benchEvent(i, at)))
		if len(rs) == chunk || i == n-1 {
			if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
				b.Fatal(err)
			}
			rs = rs[:0]
		}
	}
	b.Logf("loaded %d records in %s", n, time.Since(start).Round(time.Millisecond))
}

// BenchmarkReplayFormats compares the output formats on the same records:
// decode/<format> is the per-record path over fetched records, kfake/<format>
// the whole replay of PROVBUS_BENCH_RECORDS records (default 200 000) from
// the embedded broker, written to io.Discard. Besides records/s each
// reports records/cpu-s, records per second of the process's CPU time,
// which a loaded machine does not skew. BENCHMARKS.md holds the figures;
// Parquet and Avro must stay ≥ 0.8× NDJSON.
func BenchmarkReplayFormats(b *testing.B) {
	c := startCluster(b)
	tp := topic("portabilling.account")
	c.create(1, tp)
	at := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	formats := []string{FormatNDJSON, FormatParquet, FormatAvro}
	opts := WriterOptions{Topics: []string{"portabilling.account"}}

	rs := make([]*kgo.Record, 4096)
	for i := range rs {
		rs[i] = c.rec(tp, "k", at, benchEvent(i, at))
	}
	for _, format := range formats {
		b.Run("decode/"+format, func(b *testing.B) {
			w, err := NewWriter(format, io.Discard, opts)
			if err != nil {
				b.Fatal(err)
			}
			p := &Pipeline{Codec: c.codec, Out: w}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cputime.Process()
			for i := 0; i < b.N; i++ {
				if err := p.Handle(ctx, rs[i%len(rs)]); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			reportCPU(b, b.N, cputime.Process()-cpu)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}

	n, loaded := 200_000, false
	if s := os.Getenv("PROVBUS_BENCH_RECORDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	for _, format := range formats {
		b.Run("kfake/"+format, func(b *testing.B) {
			if !loaded {
				load(b, c, tp, n, at)
				loaded = true
			}
			b.ResetTimer()
			cpu := cputime.Process()
			for i := 0; i < b.N; i++ {
				w, err := NewWriter(format, io.Discard, opts)
				if err != nil {
					b.Fatal(err)
				}
				p := &Pipeline{Codec: c.codec, Out: w}
				if err := Replay(context.Background(), c.dial, []string{tp}, p, nil); err != nil {
					b.Fatal(err)
				}
				if p.Stats.Written != int64(n) {
					b.Fatalf("wrote %d of %d", p.Stats.Written, n)
				}
			}
			reportCPU(b, n*b.N, cputime.Process()-cpu)
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func reportCPU(b *testing.B, records int, cpu time.Duration) {
	if cpu > 0 {
		b.ReportMetric(float64(records)/cpu.Seconds(), "records/cpu-s")
	}
}
