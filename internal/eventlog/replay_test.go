package eventlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// replayIDs replays topics in w and returns the event ids written, sorted.
func replayIDs(t *testing.T, c *cluster, topics []string, w Window, f *Filter) ([]string, Stats) {
	t.Helper()
	var out bytes.Buffer
	wr, _ := NewWriter(FormatNDJSON, &out, WriterOptions{Topics: topics})
	p := &Pipeline{Codec: c.codec, Window: w, Filter: f, Out: wr}
	if err := Replay(context.Background(), c.dial, topics, p, nil); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line == "" {
			continue
		}
		var m struct {
			EventID string `json:"event_id"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		ids = append(ids, m.EventID)
	}
	slices.Sort(ids)
	return ids, p.Stats
}

// TestReplay exercises the window edges, the header pre-filter, --to-topic
// and the error exits against one embedded cluster.
func TestReplay(t *testing.T) {
	c := startCluster(t)
	acct, redrive := topic("portabilling.account"), topic("portabilling.account")
	c.create(3, acct, redrive)
	from := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	to := from.Add(time.Hour)
	ms := time.Millisecond
	at := map[string]time.Time{
		"before": from.Add(-ms), "first": from, "mid": from.Add(30 * time.Minute),
		"last": to.Add(-ms), "at-to": to, "after": to.Add(ms),
	}
	var rs []*kgo.Record
	for i, id := range []string{"before", "first", "mid", "last", "at-to", "after"} {
		// Spread over keys, so the window is planned on every partition.
		acc := int64(100 + i)
		typ := "Account/Status/Closed"
		if id == "mid" {
			typ = "Account/BalanceChanged"
		}
		rs = append(rs, c.rec(acct, itoa(acc), at[id], accountEvent(id, typ, acc, 7, at[id])))
	}
	c.produce(rs...)

	t.Run("window", func(t *testing.T) {
		ids, st := replayIDs(t, c, []string{acct}, Window{From: from, To: to}, nil)
		if want := []string{"first", "last", "mid"}; !slices.Equal(ids, want) {
			t.Fatalf("ids = %v, want %v (1 ms outside either edge is out)", ids, want)
		}
		if st.Read != 3 || st.Written != 3 {
			t.Fatalf("stats = %+v", st)
		}
	})
	t.Run("open window", func(t *testing.T) {
		ids, _ := replayIDs(t, c, []string{acct}, Window{}, nil)
		if len(ids) != 6 {
			t.Fatalf("ids = %v, want all 6", ids)
		}
	})
	t.Run("header prefilter", func(t *testing.T) {
		f := &Filter{Types: []string{"account/status/*"}}
		if err := f.Compile(nil); err != nil {
			t.Fatal(err)
		}
		ids, _ := replayIDs(t, c, []string{acct}, Window{From: from, To: to}, f)
		if want := []string{"first", "last"}; !slices.Equal(ids, want) {
			t.Fatalf("ids = %v, want %v", ids, want)
		}
	})
	t.Run("to-topic", func(t *testing.T) {
		ctx := context.Background()
		rp, err := NewRepublisher(ctx, c.dial, redrive)
		if err != nil {
			t.Fatal(err)
		}
		defer rp.Close()
		p := &Pipeline{Codec: c.codec, Window: Window{From: from, To: to}, Repub: rp}
		if err := Replay(ctx, c.dial, []string{acct}, p, nil); err != nil {
			t.Fatal(err)
		}
		if rp.Sent() != 3 {
			t.Fatalf("sent %d, want 3", rp.Sent())
		}
		orig := readAll(t, c, acct)
		copies := readAll(t, c, redrive)
		if len(copies) != 3 {
			t.Fatalf("%d copies, want 3", len(copies))
		}
		for _, cp := range copies {
			o, ok := orig[string(cp.Key)]
			if !ok {
				t.Fatalf("copy with key %s has no original", cp.Key)
			}
			if !bytes.Equal(o.Value, cp.Value) || !slices.EqualFunc(o.Headers, cp.Headers, func(a, b kgo.RecordHeader) bool {
				return a.Key == b.Key && bytes.Equal(a.Value, b.Value)
			}) {
				t.Fatalf("copy of %s differs from the original", cp.Key)
			}
			if o.Partition != cp.Partition {
				t.Errorf("key %s: partition %d in copy, %d in original (murmur2 must agree)", cp.Key, cp.Partition, o.Partition)
			}
		}
	})
	t.Run("errors", func(t *testing.T) {
		ctx := context.Background()
		p := &Pipeline{Codec: c.codec}
		if err := Replay(ctx, c.dial, []string{"portabilling.nope"}, p, nil); !errors.Is(err, ErrUnknownTopic) {
			t.Errorf("unknown topic: err = %v, want ErrUnknownTopic", err)
		}
		p = &Pipeline{Codec: c.codec, Window: Window{From: to.Add(time.Hour)}}
		if err := Replay(ctx, c.dial, []string{acct}, p, nil); !errors.Is(err, ErrEmptyWindow) {
			t.Errorf("empty window: err = %v, want ErrEmptyWindow", err)
		}
		if _, err := NewRepublisher(ctx, c.dial, "portabilling.nope"); !errors.Is(err, ErrUnknownTopic) {
			t.Errorf("to-topic: err = %v, want ErrUnknownTopic", err)
		}
		dead := func(opts ...kgo.Opt) (*kgo.Client, error) {
			return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}, opts...)...)
		}
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := Replay(dctx, dead, []string{acct}, &Pipeline{Codec: c.codec}, nil); err == nil {
			t.Error("unreachable broker: no error")
		}
	})
}

// readAll returns the records of topic by key.
func readAll(t *testing.T, c *cluster, topic string) map[string]*kgo.Record {
	t.Helper()
	out := map[string]*kgo.Record{}
	cl, _ := c.dial()
	defer cl.Close()
	ranges, err := Plan(context.Background(), mustAdmin(t, cl), []string{topic}, Window{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = Read(context.Background(), c.dial, ranges, nil, func(r *kgo.Record) error {
		out[string(r.Key)] = r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
