package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/provbus/provbus/internal/embedded/embeddedtest"
	"github.com/provbus/provbus/producers/edge"
	"github.com/twmb/franz-go/pkg/kgo"
)

// worstBodies are the most expensive bodies of at most 1 MiB that the
// default limits let through to the parsers, one per way of spending:
// the most attributes (the request's budget, spread over few or over
// the most events, the rest of the MiB in escaped text), the deepest
// flattening, the longest escaped values, the largest hash to compute,
// the most events, and a bad element that makes every other one be
// parsed twice.
func worstBodies() map[string]struct{ source, body string } {
	const mib = 1 << 20
	l := edge.DefaultLimits
	// fill is the longest array of one(0), one(1), … within 1 MiB that
	// the limits let through.
	fill := func(one func(i int) string) string {
		build := func(n int) string {
			var b strings.Builder
			b.WriteByte('[')
			for i := 0; i < n; i++ {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(one(i))
			}
			b.WriteByte(']')
			return b.String()
		}
		lo, hi := 1, l.MaxEvents // build(lo) fits
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if body := build(mid); len(body) <= mib && l.Check([]byte(body)) == nil {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		return build(lo)
	}
	vars := func(n int) string {
		var b strings.Builder
		for j := 0; j < n; j++ {
			fmt.Fprintf(&b, `,"v%d":%d`, j, j)
		}
		return b.String()
	}
	// escapedText is JSON string text of about n bytes that decodes to
	// two bytes of UTF-8 per six, within the attribute length limit:
	// what costs the most per byte to unquote and re-encode.
	escapedText := func(n int) string {
		return strings.Repeat(`\u00e9`, min(max(n, 0)/6, l.MaxAttributeBytes/2))
	}
	// spread shapes events of leaves attributes each so that as many of
	// them as the request budget allows fill the MiB: one(i, pad) is an
	// event whose pad, escaped text of about pad bytes, is one more
	// attribute.
	spread := func(leaves int, one func(i int, pad string) string) string {
		n := min(l.MaxEvents, l.MaxRequestAttributes/(leaves+1))
		pad := mib/n - len(one(n, "")) - 8
		return fill(func(i int) string { return one(i, escapedText(pad)) })
	}
	espf := func(attrs int) string {
		return spread(attrs+3, func(i int, pad string) string {
			return fmt.Sprintf(`{"event_type":"Account/New","variables":{"i_event":"%d","i_account":%d,"pad":"%s"%s}}`, i, i, pad, vars(attrs))
		})
	}
	jerasoft := func(attrs int) string {
		return spread(attrs+3, func(i int, pad string) string {
			return fmt.Sprintf(`{"event":{"events_id":"clients.create","object_id":%d},"data":{"pad":"%s"%s}}`, i, pad, vars(attrs))
		})
	}
	// A Transatel body nested to the depth limit at every leaf.
	deep := func(i int, pad string) string {
		var b strings.Builder
		fmt.Fprintf(&b, `{"header":{"eventId":"d%d","eventType":"CONNECTIVITY-MANAGEMENT/SUBSCRIBER/ACTIVATED"},"body":{"msisdn":"3360%d","pad":"%s"`, i, i, pad)
		for k := 0; k < 8; k++ {
			fmt.Fprintf(&b, `,"n%d":`, k)
			b.WriteString(strings.Repeat(`{"a":1,"b":`, l.MaxDepth-3))
			b.WriteString(`"x"`)
			b.WriteString(strings.Repeat(`}`, l.MaxDepth-3))
		}
		b.WriteString(`}}`)
		return b.String()
	}
	escaped := escapedText(l.MaxAttributeBytes / 2)
	perEvent := l.MaxRequestAttributes/l.MaxEvents - 4
	return map[string]struct{ source, body string }{
		"espf-max-attributes":        {"portabilling", espf(l.MaxAttributes - 3)},
		"espf-attributes-all-events": {"portabilling", espf(perEvent)},
		"espf-max-events": {"portabilling", fill(func(i int) string {
			return fmt.Sprintf(`{"event_type":"Account/New","variables":{"i_event":"%d","i_account":%d,"pad":"%s"}}`, i, i, strings.Repeat("p", 900))
		})},
		"espf-one-bad-then-good": {"portabilling", fill(func(i int) string {
			if i == 0 {
				return `{"event_type":1,"variables":{}}`
			}
			return fmt.Sprintf(`{"event_type":"Account/New","variables":{"i_event":"%d","i_account":%d,"pad":"%s"}}`, i, i, strings.Repeat("p", 900))
		})},
		"transatel-deepest": {"transatel", spread(8*(l.MaxDepth-2)+3, deep)},
		"transatel-escaped-values": {"transatel", fill(func(i int) string {
			return fmt.Sprintf(`{"header":{"eventId":"e%d","eventType":"CONNECTIVITY-MANAGEMENT/SUBSCRIBER/ACTIVATED"},"body":{"msisdn":"33%d","note":"%s"}}`, i, i, escaped)
		})},
		"jerasoft-max-attributes":        {"jerasoft", jerasoft(l.MaxAttributes - 4)},
		"jerasoft-attributes-all-events": {"jerasoft", jerasoft(perEvent)},
		"jerasoft-escaped-values": {"jerasoft", fill(func(i int) string {
			return fmt.Sprintf(`{"event":{"events_id":"clients.create","object_id":%d},"data":{"note":"%s"}}`, i, escaped)
		})},
	}
}

// BenchmarkWorstBody measures what the worst 1 MiB body the default
// limits allow costs the ingest before the produce: limits, parse,
// catalog, Avro encoding (or the 400 for the bad one). cpu-ms/op is the
// process's CPU time (all threads, GC included) per request; issue 12
// wants it under 50 ms.
func BenchmarkWorstBody(b *testing.B) {
	ec := embeddedtest.Start(b, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := New(ctx, WithKafka(kgo.SeedBrokers(ec.Cluster.Brokers()...)), WithRegistry(ec.Registry), WithAuth(testAuth))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	for name, tc := range worstBodies() {
		body := []byte(tc.body)
		if len(body) > 1<<20 {
			b.Fatalf("%s: %d bytes", name, len(body))
		}
		src, _ := srv.Source(tc.source)
		m := meta{received: time.Now(), contentType: "application/json"}
		// The body must get through the limits, or it measures nothing.
		if _, err := srv.prepare(src, body, m); err != nil {
			var bad *edge.Error
			if !errors.As(err, &bad) || name != "espf-one-bad-then-good" || bad.Count() != 1 {
				b.Fatalf("%s: %v", name, err)
			}
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			start := cpuTime()
			for i := 0; i < b.N; i++ {
				_, _ = srv.prepare(src, body, m)
			}
			b.ReportMetric(float64((cpuTime()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
