package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// DefaultRestoreTimeout bounds the read of the account topics at start.
const DefaultRestoreTimeout = 10 * time.Minute

// Options say how the reader connects and what bounds it.
type Options struct {
	// Kafka are the connection options (seed brokers, TLS, SASL).
	Kafka []kgo.Opt
	// Codec decodes the account events.
	Codec     *schemas.Codec
	Namespace topology.Namespace
	Log       *zap.Logger
	// RestoreTimeout bounds the read to the end offsets at start
	// (0: DefaultRestoreTimeout); past it Start fails, naming how many
	// partitions were short.
	RestoreTimeout time.Duration

	// quiet, when set, replaces the end-offset rule with "nothing came
	// for this long": the negative twin's broken restore, never in
	// production.
	quiet time.Duration
}

// Topics are the topics the table is built from.
func Topics() []string {
	return []string{topology.TopicDirectoryAccounts, "portabilling.account", topology.TopicAccountInherited}
}

type partKey struct {
	topic string
	part  int32
}

// Start reads the account topics up to the end offsets they had when it
// was called and returns the table; a goroutine then keeps applying what
// comes next until ctx ends.
//
// The end of a partition is its last stable offset (read_committed:
// the directory writes its changelog in transactions), and the reader
// keeps control records, so the commit marker that closes the last
// transaction ends the partition at once. Where the record just below
// the end is aborted data (transactions interleaved during a rebalance),
// the partition ends on the first record read past it, once the open
// transaction above it ends: never on a quiet period.
func Start(ctx context.Context, o Options) (*Table, error) {
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	if o.RestoreTimeout <= 0 {
		o.RestoreTimeout = DefaultRestoreTimeout
	}
	topics := o.Namespace.Topics(Topics())
	dirTopic := topics[0]
	started := time.Now()
	rctx, cancel := context.WithTimeout(ctx, o.RestoreTimeout)
	defer cancel()

	admCl, err := kgo.NewClient(o.Kafka...)
	if err != nil {
		return nil, err
	}
	adm := kadm.NewClient(admCl)
	ends, err := adm.ListCommittedOffsets(rctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	var starts kadm.ListedOffsets
	if err == nil {
		starts, err = adm.ListStartOffsets(rctx, topics...)
		if err == nil {
			err = starts.Error()
		}
	}
	admCl.Close()
	if err != nil {
		return nil, fmt.Errorf("state: offsets of %v: %w", topics, err)
	}
	end := map[partKey]int64{}
	consume := map[string]map[int32]kgo.Offset{}
	ends.Each(func(e kadm.ListedOffset) {
		s, _ := starts.Lookup(e.Topic, e.Partition)
		if consume[e.Topic] == nil {
			consume[e.Topic] = map[int32]kgo.Offset{}
		}
		consume[e.Topic][e.Partition] = kgo.NewOffset().At(s.Offset)
		if e.Offset > s.Offset {
			end[partKey{e.Topic, e.Partition}] = e.Offset
		}
	})
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), o.Kafka...),
		kgo.ConsumePartitions(consume),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond),
	)...)
	if err != nil {
		return nil, err
	}
	t := NewTable()
	apply := func(rec *kgo.Record) {
		if rec.Attrs.IsControl() {
			return
		}
		if err := t.apply(ctx, o.Codec, rec, rec.Topic == dirTopic); err != nil {
			// A record this reader cannot read costs its account's
			// state, not the delivery: it is logged and skipped.
			o.Log.Warn("state record skipped", zap.String("topic", rec.Topic), zap.Int32("partition", rec.Partition),
				zap.Int64("offset", rec.Offset), zap.Error(err))
		}
	}
	applied := 0
	for len(end) > 0 {
		pctx := rctx
		var pcancel context.CancelFunc = func() {}
		if o.quiet > 0 {
			pctx, pcancel = context.WithTimeout(rctx, o.quiet)
		}
		fs := cl.PollFetches(pctx)
		pcancel()
		if o.quiet > 0 && rctx.Err() == nil && fs.NumRecords() == 0 {
			break // the twin's quiet rule
		}
		if rctx.Err() != nil {
			cl.Close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("state: %d partitions of %v not read to their end within %s", len(end), topics, o.RestoreTimeout)
		}
		var ferr error
		fs.EachError(func(tp string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && ferr == nil {
				ferr = fmt.Errorf("state: read %s/%d: %w", tp, p, err)
			}
		})
		if ferr != nil {
			cl.Close()
			return nil, ferr
		}
		fs.EachRecord(func(rec *kgo.Record) {
			apply(rec)
			if !rec.Attrs.IsControl() {
				applied++
			}
			k := partKey{rec.Topic, rec.Partition}
			if e, ok := end[k]; ok && rec.Offset >= e-1 {
				delete(end, k)
			}
		})
	}
	o.Log.Info("account state restored", zap.Int("accounts", t.Len()), zap.Int("records", applied), zap.Duration("took", time.Since(started)))
	go func() {
		defer cl.Close()
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil || fs.IsClientClosed() {
				return
			}
			fs.EachError(func(tp string, p int32, err error) {
				o.Log.Warn("state tail", zap.String("topic", tp), zap.Int32("partition", p), zap.Error(err))
			})
			fs.EachRecord(apply)
		}
	}()
	return t, nil
}

// apply applies one record of the directory's account table (dir) or of
// an account topic.
func (t *Table) apply(ctx context.Context, codec *schemas.Codec, rec *kgo.Record, dir bool) error {
	if dir {
		id, err := strconv.ParseInt(string(rec.Key), 10, 64)
		if err != nil {
			return fmt.Errorf("account table key %q: %w", rec.Key, err)
		}
		if rec.Value == nil {
			t.ApplyDirectory(id, nil)
			return nil
		}
		var row directory.Row
		if err := json.Unmarshal(rec.Value, &row); err != nil {
			return fmt.Errorf("account table %d: %w", id, err)
		}
		t.ApplyDirectory(id, &row)
		return nil
	}
	var ev schemas.Event
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		_, err := codec.Decode(ctx, rec.Value, &ev)
		if err == nil {
			break
		}
		if schemas.PoisonReason(err) != "" {
			return err
		}
		// The registry is unreachable: the reader waits for it rather
		// than lose the account's state (the state goes stale meanwhile).
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	t.ApplyEvent(&ev)
	return nil
}
