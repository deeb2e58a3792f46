package benchmark

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/provbus/provbus/internal/embedded"
	"github.com/provbus/provbus/internal/provision"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// cluster is one fresh embedded broker and registry persisted in its own
// data directory, with the provbus topology applied: every line of the
// table gets its own, so one line's leftovers (a backlog in a domain topic)
// never become the next line's work.
type cluster struct {
	emb     *embedded.Cluster
	dir     string
	brokers []string
	regURL  string
	cl      *kgo.Client // producer and admin client
	adm     *kadm.Client
	reg     *sr.Client
	codec   *schemas.Codec
	cat     *topology.Catalog
}

func startCluster(ctx context.Context, cat *topology.Catalog, partitions int) (*cluster, error) {
	dir, err := os.MkdirTemp("", "provbus-bench-")
	if err != nil {
		return nil, err
	}
	emb, err := embedded.Start(ctx, embedded.Config{DataDir: dir, KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0",
		Broker: true, Registry: true, Partitions: partitions})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c := &cluster{emb: emb, dir: dir, brokers: emb.Brokers(), regURL: emb.RegistryURL(), cat: cat}
	if c.cl, err = kgo.NewClient(append(provision.ClientOpts(), kgo.SeedBrokers(c.brokers...),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(100_000), kgo.ProducerLinger(5*time.Millisecond))...); err != nil {
		c.close()
		return nil, err
	}
	c.adm = kadm.NewClient(c.cl)
	if c.reg, err = sr.NewClient(sr.URLs(c.regURL)); err != nil {
		c.close()
		return nil, err
	}
	c.codec = schemas.NewCodec(c.reg)
	specs := cat.Layout(topology.LayoutOptions{Partitions: int32(partitions), ReplicationFactor: 1, MinInsyncReplicas: 1, HandlerRetention: 7 * 24 * time.Hour})
	target := provision.Target{Admin: c.adm, Registry: c.reg, ReplicationFactor: 1}
	plan, err := provision.MakePlan(ctx, target, specs)
	if err == nil {
		err = provision.Apply(ctx, target, plan)
	}
	if err != nil {
		c.close()
		return nil, fmt.Errorf("topology apply: %w", err)
	}
	return c, nil
}

func (c *cluster) close() {
	if c.cl != nil {
		c.cl.Close()
	}
	c.emb.Close()
	os.RemoveAll(c.dir)
}

// dial returns a client on the cluster with extra options.
func (c *cluster) dial(opts ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.brokers...)}, opts...)...)
}

// createAvroTopics creates plain topics for the baselines and registers
// the event schema (that of portabilling.account) under each, so baselines
// encode the same records provbus does.
func (c *cluster) createAvroTopics(ctx context.Context, partitions int32, topics ...string) error {
	return c.createAvroTopicsWith(ctx, partitions, nil, topics...)
}

// createAvroTopicsWith is createAvroTopics with topic configs.
func (c *cluster) createAvroTopicsWith(ctx context.Context, partitions int32, configs map[string]string, topics ...string) error {
	var cfg map[string]*string
	for k, v := range configs {
		if cfg == nil {
			cfg = map[string]*string{}
		}
		cfg[k] = &v
	}
	if _, err := c.adm.CreateTopics(ctx, partitions, 1, cfg, topics...); err != nil {
		return err
	}
	text, err := schemas.ValueSchema("portabilling.account")
	if err != nil {
		return err
	}
	for _, t := range topics {
		if _, err := c.codec.Use(ctx, t, text); err != nil {
			return err
		}
	}
	return nil
}

// produce encodes and produces events, synchronously in chunks.
func (c *cluster) produce(ctx context.Context, topic string, n int, key func(i int) string, ev func(i int) *schemas.Event) error {
	if err := records.Use(ctx, c.codec, topic); err != nil {
		if _, ok := c.codec.SchemaID(topic); !ok {
			return err
		}
	}
	const chunk = 20_000
	rs := make([]*kgo.Record, 0, chunk)
	for i := 0; i < n; i++ {
		r, err := records.Event(c.codec, topic, key(i), ev(i))
		if err != nil {
			return err
		}
		rs = append(rs, r)
		if len(rs) == chunk || i == n-1 {
			if err := c.cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
				return err
			}
			rs = rs[:0]
		}
	}
	return nil
}

// counter counts the records read_committed consumers see on topics, the
// way a downstream provisioning service would see them; it never decodes,
// so its cost is the same for provbus and the baseline.
type counter struct {
	cl    *kgo.Client
	n     atomic.Int64
	first atomic.Int64 // unix ns of the first record
	last  atomic.Int64 // unix ns of the latest record
	done  chan struct{}
}

func (c *cluster) count(ctx context.Context, topics ...string) (*counter, error) {
	cl, err := c.dial(kgo.ConsumeTopics(topics...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		return nil, err
	}
	k := &counter{cl: cl, done: make(chan struct{})}
	go func() {
		defer close(k.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			if fs.IsClientClosed() {
				return
			}
			if n := fs.NumRecords(); n > 0 {
				now := time.Now().UnixNano()
				k.first.CompareAndSwap(0, now)
				k.last.Store(now)
				k.n.Add(int64(n))
			}
		}
	}()
	return k, nil
}

// wait blocks until the counter reaches want or timeout passes; it
// returns when the want-th record was seen.
func (k *counter) wait(ctx context.Context, want int64, timeout time.Duration) (time.Time, error) {
	err := pollUntil(ctx, timeout, 5*time.Millisecond, func() bool { return k.n.Load() >= want })
	if errors.Is(err, errPollTimeout) {
		return time.Time{}, fmt.Errorf("saw %d of %d records in %s", k.n.Load(), want, timeout)
	}
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, k.last.Load()), nil
}

// firstAt is when the first record was seen (zero before any).
func (k *counter) firstAt() time.Time { return time.Unix(0, k.first.Load()) }

func (k *counter) close() {
	k.cl.Close()
	<-k.done
}

// committedAtEnd reports whether group has committed every partition of
// the non-transactional topic up to its end.
func (c *cluster) committedAtEnd(ctx context.Context, group, topic string) (bool, error) {
	ends, err := c.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return false, err
	}
	offs, err := c.adm.FetchOffsets(ctx, group)
	if err != nil {
		return false, err
	}
	ok := true
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset == 0 {
			return
		}
		if co, found := offs.Lookup(topic, o.Partition); !found || co.At < o.Offset {
			ok = false
		}
	})
	return ok, nil
}

// waitCommitted polls committedAtEnd until true.
func (c *cluster) waitCommitted(ctx context.Context, group, topic string, timeout time.Duration) error {
	var last error
	err := pollUntil(ctx, timeout, 50*time.Millisecond, func() bool {
		ok, err := c.committedAtEnd(ctx, group, topic)
		last = err
		return err == nil && ok
	})
	if errors.Is(err, errPollTimeout) {
		return fmt.Errorf("group %s did not catch up with %s in %s (%v)", group, topic, timeout, last)
	}
	return err
}

// waitDrained waits until every consumer group of the cluster has
// committed every partition it reads to the end, so the whole pipeline
// has written everything its inputs hold. A transactional input ends with
// a commit marker no group commits past, so one offset of lag per
// partition counts as drained.
func (c *cluster) waitDrained(ctx context.Context, timeout time.Duration) error {
	var behind string
	var last error
	err := pollUntil(ctx, timeout, 50*time.Millisecond, func() bool {
		behind, last = c.behind(ctx)
		return last == nil && behind == ""
	})
	if errors.Is(err, errPollTimeout) {
		return fmt.Errorf("the pipeline did not drain in %s: %s (%v)", timeout, behind, last)
	}
	return err
}

// errPollTimeout is pollUntil's: its limit passed.
var errPollTimeout = errors.New("timed out")

// pollUntil checks done every interval until it holds (nil), ctx ends, or
// limit passes (errPollTimeout). It ends on a condition, never on quiet.
func pollUntil(ctx context.Context, limit, every time.Duration, done func() bool) error {
	deadline := time.Now().Add(limit)
	for !done() {
		if time.Now().After(deadline) {
			return errPollTimeout
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
	return nil
}

// behind names one group partition with more than a marker of lag, or is
// empty when there is none.
func (c *cluster) behind(ctx context.Context) (string, error) {
	listed, err := c.adm.ListGroups(ctx)
	if err != nil {
		return "", err
	}
	lags, err := c.adm.Lag(ctx, listed.Groups()...)
	if err != nil {
		return "", err
	}
	behind := ""
	lags.Each(func(l kadm.DescribedGroupLag) {
		for _, m := range l.Lag.Sorted() {
			if m.Lag > 1 && behind == "" {
				behind = fmt.Sprintf("%s %s/%d lag %d", l.Group, m.End.Topic, m.End.Partition, m.Lag)
			}
		}
	})
	return behind, nil
}

func i64(v int64) *int64 { return &v }

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
