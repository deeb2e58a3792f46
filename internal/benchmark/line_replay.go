package benchmark

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/eventlog"
	"github.com/provbus/provbus/schemas"
)

// replayEvent is a realistic account event: a dozen attributes and the
// original ESPF JSON, as the PortaBilling edge writes them.
func replayEvent(i int) *schemas.Event {
	acc, cust := int64(1000+i%5000), int64(10+i%300)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)
	return &schemas.Event{EventID: strconv.Itoa(i), Source: "portabilling", EventType: "Account/BalanceChanged",
		Origin: schemas.OriginDirect, IAccount: &acc, ICustomer: &cust, IEnv: i64(1), OccurredAt: now, ReceivedAt: now,
		Attributes: map[string]string{"i_env": "1", "i_account": itoa(acc), "i_customer": itoa(cust), "balance": "12.34",
			"prev_balance": "10.00", "currency": "EUR", "credit_limit": "100", "id": "4420" + strconv.Itoa(i),
			"billing_model": "1", "blocked": "N", "status": "active", "i_product": "3"},
		Payload: `{"event_type":"Account/BalanceChanged","variables":{"i_env":1,"i_account":` + itoa(acc) +
			`,"balance":"12.34","prev_balance":"10.00","currency":"EUR","i_event":` + strconv.Itoa(i) + `}}`}
}

// lineReplay replays a topic to NDJSON with internal/eventlog (what
// `provbus replay --format ndjson` runs) against a plain consumer that
// decodes each record and json.Marshals it.
func lineReplay(ctx context.Context, cfg Config, _ Wiring) ([]Row, error) {
	c, err := startCluster(ctx, cfg.Catalog, cfg.Partitions)
	if err != nil {
		return nil, err
	}
	defer c.close()
	const topic = "portabilling.account"
	n := cfg.ReplayRecords
	if err := c.produce(ctx, topic, n, func(i int) string { return itoa(int64(1000 + i%5000)) }, replayEvent); err != nil {
		return nil, err
	}

	f := &eventlog.Filter{}
	if err := f.Compile(cfg.Catalog); err != nil {
		return nil, err
	}
	out, err := eventlog.NewWriter(eventlog.FormatNDJSON, io.Discard, eventlog.WriterOptions{})
	if err != nil {
		return nil, err
	}
	p := &eventlog.Pipeline{Codec: c.codec, Filter: f, Out: out}
	start := time.Now()
	if err := eventlog.Replay(ctx, c.dial, []string{topic}, p, nil); err != nil {
		return nil, err
	}
	pb := time.Since(start)
	if p.Stats.Written != int64(n) {
		return nil, fmt.Errorf("replay wrote %d of %d", p.Stats.Written, n)
	}

	start = time.Now()
	cl, err := c.dial(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(8<<20))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	enc := json.NewEncoder(io.Discard)
	var ev schemas.Event
	seen := 0
	for seen < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var derr error
		fs.EachRecord(func(r *kgo.Record) {
			if _, err := c.codec.Decode(ctx, r.Value, &ev); err != nil {
				derr = err
			}
			if err := enc.Encode(&ev); err != nil {
				derr = err
			}
			seen++
		})
		if derr != nil {
			return nil, derr
		}
	}
	bare := time.Since(start)
	return []Row{{Step: fmt.Sprintf("6. replay to NDJSON, %d records", n), Metric: "records/s",
		Provbus: float64(n) / pb.Seconds(), Baseline: float64(n) / bare.Seconds(), Unit: "rec/s", Target: "≥ 150k/s"}}, nil
}
