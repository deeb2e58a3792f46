package stream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/provbus/provbus/internal/metrics"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// Runner runs one Processor as a member of its consumer group.
type Runner struct {
	proc  Processor
	spec  Spec
	kopts []kgo.Opt
	codec *schemas.Codec
	log   *zap.Logger
	adm   *kadm.Client
	admCl *kgo.Client
	// metrics is nil unless WithMetrics: no metric work at all then.
	metrics *metrics.Pipeline

	mode         Mode
	txnPrefix    string
	instance     string             // static member's group.instance.id; "" = dynamic
	ns           topology.Namespace // topics.prefix; spec holds physical names
	txnTimeout   time.Duration
	tickInterval time.Duration
	maxPoll      int
	session      time.Duration
	rebalance    time.Duration
	// restoreTimeout bounds one restore (WithRestoreTimeout).
	restoreTimeout time.Duration
	// partitionRefresh is how often output partition counts are re-read.
	partitionRefresh time.Duration

	mu      sync.Mutex
	wanted  map[int32]bool // assignment as the group callbacks report it
	revoked map[int32]bool // revoked since the last sync: their state is stale

	malformedMu   sync.Mutex
	malformedSeen map[malformedKey]bool // changelog records copied to the DLQ (malformed.go)
}

// Option configures a Runner.
type Option func(*Runner)

// WithKafka sets the connection options (kclient.Opts). Required.
func WithKafka(opts ...kgo.Opt) Option {
	return func(r *Runner) { r.kopts = append(r.kopts, opts...) }
}

// WithCodec sets the codec inputs are decoded and outputs encoded with.
// Required.
func WithCodec(c *schemas.Codec) Option { return func(r *Runner) { r.codec = c } }

// WithLogger sets the logger (default: no logging).
func WithLogger(l *zap.Logger) Option { return func(r *Runner) { r.log = l } }

// WithMetrics records the runner's metrics on p (default none): the
// processor's poll-to-commit latency, records produced per topic and DLQ
// records (counted once their transaction commits), consumer lag per
// partition, and franz-go client metrics (kprom, client=<group>). A
// processor implementing Instrumented gets p too.
func WithMetrics(p *metrics.Pipeline) Option { return func(r *Runner) { r.metrics = p } }

// Instrumented is implemented by processors with metrics of their own (the
// dispatch fan-out, de-duplication hits, the directory size). New calls
// Instrument once, before Run, when the runner has WithMetrics.
type Instrumented interface {
	Instrument(p *metrics.Pipeline)
}

// WithMode selects the guarantee (default ExactlyOnce). AtLeastOnce is for
// negative-twin tests only.
func WithMode(m Mode) Option { return func(r *Runner) { r.mode = m } }

// WithTransactionalIDPrefix sets the prefix of the transactional id of a
// dynamic member (default "<group>-"); a random suffix is added per start.
// A static member (WithInstanceID) ignores it.
func WithTransactionalIDPrefix(p string) Option { return func(r *Runner) { r.txnPrefix = p } }

// WithInstanceID makes the runner a static group member (KIP-345,
// group.instance.id = id) with the stable transactional id "<group>-<id>"
// (default: a dynamic member with a random transactional id per start).
//
// This is what makes recovery take seconds: a restarted instance rejoins
// with its id and gets its partitions back at once, without waiting for
// the dead member's session timeout or a rebalance, and its
// InitProducerID aborts the transaction its predecessor left open instead
// of leaving read_committed readers blocked until the transaction timeout.
// The price: the id must be unique among the running instances (a second
// process with the same id takes the slot over, and the first one stops
// with ErrDuplicateInstance), and an instance that stops for good keeps
// its partitions until its session timeout, since a static member does not
// leave the group when it closes.
func WithInstanceID(id string) Option { return func(r *Runner) { r.instance = id } }

// ErrDuplicateInstance is returned by Run when another process joined the
// group with this runner's instance id (WithInstanceID): the ids are not
// unique, and fighting for the slot would fence each other forever.
var ErrDuplicateInstance = errors.New("another process runs with this instance id")

// DefaultTransactionTimeout is how long the broker lets a processor's
// transaction stay open. A transaction spans one poll (well under a second;
// about one for a 100 000-account fan-out). A static member's restart
// aborts its predecessor's open transaction at once; a dynamic member
// uses a fresh transactional id per start, so a killed member's open
// transaction is only aborted by this timeout, and until then
// read_committed readers of its output partitions wait: keep it short.
const DefaultTransactionTimeout = 15 * time.Second

// WithTransactionTimeout sets how long the broker lets a transaction stay
// open before aborting it (default DefaultTransactionTimeout).
func WithTransactionTimeout(d time.Duration) Option { return func(r *Runner) { r.txnTimeout = d } }

// DefaultTickInterval is how often, at most, the runner lists end offsets
// for Tick.CaughtUp. The directory's watermarks move once per tick, so the
// tick is part of every dispatch's wait (it was 250 ms); the price is one
// ListOffsets request per tick for a processor with a Ticker.
const DefaultTickInterval = 100 * time.Millisecond

// WithTickInterval sets how often, at most, the runner lists end offsets
// for Tick.CaughtUp and how long a poll waits when nothing arrives
// (default DefaultTickInterval).
func WithTickInterval(d time.Duration) Option { return func(r *Runner) { r.tickInterval = d } }

// WithMaxPollRecords caps the records per poll, hence per transaction
// (default 10 000).
func WithMaxPollRecords(n int) Option { return func(r *Runner) { r.maxPoll = n } }

// WithGroupTimeouts sets the group session and rebalance timeouts (default
// kgo's 45 s and 60 s). Tests shorten them so a killed member's partitions
// move quickly.
func WithGroupTimeouts(session, rebalance time.Duration) Option {
	return func(r *Runner) { r.session, r.rebalance = session, rebalance }
}

// DefaultPartitionRefresh is how often the runner re-reads the partition
// counts of the topics it writes. Records are placed by Kafka's default
// partitioner over the current count, so when partitions are added,
// records keyed K move to K's new partition, as Java clients move them
// when they refresh their metadata (metadata.max.age.ms: 5 min).
const DefaultPartitionRefresh = 30 * time.Second

// WithPartitionRefresh sets how often partition counts are re-read
// (default DefaultPartitionRefresh; d ≤ 0 keeps it).
func WithPartitionRefresh(d time.Duration) Option {
	return func(r *Runner) {
		if d > 0 {
			r.partitionRefresh = d
		}
	}
}

// fetchMaxWait is how long the broker may hold a fetch of the main
// client for want of records (see clientOpts).
const fetchMaxWait = 500 * time.Millisecond

// New returns a runner for p. It does not connect; Run does.
func New(p Processor, opts ...Option) (*Runner, error) {
	r := &Runner{
		proc: p, spec: p.Spec(), log: zap.NewNop(),
		txnTimeout: DefaultTransactionTimeout, tickInterval: DefaultTickInterval, maxPoll: 10000,
		restoreTimeout: DefaultRestoreTimeout, partitionRefresh: DefaultPartitionRefresh,
		wanted: map[int32]bool{}, revoked: map[int32]bool{}, malformedSeen: map[malformedKey]bool{},
	}
	for _, o := range opts {
		o(r)
	}
	r.spec = r.spec.physical(r.ns)
	switch {
	case r.spec.Group == "":
		return nil, errors.New("stream: Spec.Group is empty")
	case len(r.spec.Inputs) == 0:
		return nil, fmt.Errorf("stream: group %s has no inputs", r.spec.Group)
	case len(r.kopts) == 0:
		return nil, fmt.Errorf("stream: group %s: WithKafka is required", r.spec.Group)
	case r.codec == nil:
		return nil, fmt.Errorf("stream: group %s: WithCodec is required", r.spec.Group)
	}
	for _, t := range r.spec.Tables {
		if t.Apply == nil || t.Drop == nil {
			return nil, fmt.Errorf("stream: group %s: table %s needs Apply and Drop", r.spec.Group, t.Changelog)
		}
	}
	if r.txnPrefix == "" {
		r.txnPrefix = r.spec.Group + "-"
	}
	r.log = r.log.With(zap.String("group", r.spec.Group))
	if in, ok := p.(Instrumented); ok && r.metrics != nil {
		in.Instrument(r.metrics)
	}
	return r, nil
}

// Group returns the processor's consumer group id.
func (r *Runner) Group() string { return r.spec.Group }

// Run consumes until ctx is cancelled (then it returns nil) or a fatal
// error occurs. It checks the topics first and refuses to start when they
// are missing or not co-partitioned (ErrCoPartitioning).
func (r *Runner) Run(ctx context.Context) error {
	admCl, err := kgo.NewClient(r.kopts...)
	if err != nil {
		return fmt.Errorf("stream: admin client: %w", err)
	}
	defer admCl.Close()
	r.admCl, r.adm = admCl, kadm.NewClient(admCl)
	parts, _, err := checkTopics(ctx, r.adm, r.spec, r.ns)
	if err != nil {
		return err
	}
	for {
		l, err := r.newLoop(parts)
		if err != nil {
			return err
		}
		r.log.Info("processor started", zap.Stringer("mode", r.mode), zap.String("transactional_id", l.txnID),
			zap.String("group_instance_id", r.instance))
		err = l.run(ctx)
		member, _ := l.cl.GroupMetadata()
		l.close()
		if !fenced(err) || ctx.Err() != nil {
			return err
		}
		if err := r.checkUniqueInstance(ctx, member, err); err != nil {
			return err
		}
		// Another member took our partitions while we were paused (GC,
		// SIGSTOP, a frozen VM): our writes were fenced and are not
		// visible. Rejoin instead of dying (a dynamic member with a new
		// transactional id, a static one with its own, whose
		// InitProducerID bumps the epoch); state is restored from the
		// changelogs.
		r.log.Warn("fenced by a newer member: rejoining", zap.Error(err))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// fenced reports whether err means this member's producer was fenced (a
// newer epoch or member owns its work), which a new session recovers from.
func fenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.InvalidProducerIDMapping)
}

// checkUniqueInstance decides whether a fenced static member may rejoin.
// A static member is fenced either because it was paused past its session
// or transaction timeout (the group dropped it; rejoining is right), or
// because another process started with its instance id (the group lists
// that process under the id with another member id; rejoining would take
// the slot back and fence it, and so on forever). Only the first may
// rejoin. A dynamic member always may.
func (r *Runner) checkUniqueInstance(ctx context.Context, member string, cause error) error {
	if r.instance == "" {
		return nil
	}
	described, err := r.adm.DescribeGroups(ctx, r.spec.Group)
	if err != nil {
		return fmt.Errorf("stream: group %s: fenced (%w) and cannot tell by whom: %w", r.spec.Group, cause, err)
	}
	for _, m := range described[r.spec.Group].Members {
		if m.InstanceID != nil && *m.InstanceID == r.instance && m.MemberID != member {
			return r.duplicate()
		}
	}
	return nil
}

func (r *Runner) duplicate() error {
	return fmt.Errorf("stream: group %s: %w %q (process.instance_id must be unique per running instance): stopping",
		r.spec.Group, ErrDuplicateInstance, r.instance)
}

func (r *Runner) clientOpts() []kgo.Opt {
	topics := make([]string, 0, len(r.spec.Inputs))
	for _, in := range r.spec.Inputs {
		topics = append(topics, in.Topic)
	}
	opts := append(append([]kgo.Opt(nil), r.kopts...),
		kgo.ConsumerGroup(r.spec.Group),
		kgo.ConsumeTopics(topics...),
		// Range assigns partition p of every input to the same member
		// (equal counts are checked), so co-partitioned inputs share
		// one state partition.
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		// A restarted member's first read_committed fetch was seen to
		// wait the whole max wait (kgo's 5 s) on the embedded broker
		// although records were there: 5 of the 5.7 s a restart took to
		// catch up. 500 ms bounds that; an idle member sends two fetches
		// a second instead of one every 5 s.
		kgo.FetchMaxWait(fetchMaxWait),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.OnPartitionsAssigned(r.onAssigned),
		kgo.OnPartitionsRevoked(r.onRevoked),
		kgo.OnPartitionsLost(r.onLost),
	)
	if r.metrics != nil {
		opts = append(opts, r.metrics.Kafka(r.spec.Group))
	}
	if r.session > 0 {
		opts = append(opts, kgo.SessionTimeout(r.session), kgo.HeartbeatInterval(r.session/5))
	}
	if r.rebalance > 0 {
		opts = append(opts, kgo.RebalanceTimeout(r.rebalance))
	}
	if r.instance != "" {
		opts = append(opts, kgo.InstanceID(r.instance))
	}
	return opts
}

func (r *Runner) onAssigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ps := range m {
		for _, p := range ps {
			r.wanted[p] = true
		}
	}
}

func (r *Runner) onRevoked(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ps := range m {
		for _, p := range ps {
			delete(r.wanted, p)
			r.revoked[p] = true
		}
	}
}

func (r *Runner) onLost(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	r.onRevoked(ctx, cl, m)
}

// assignment returns the wanted partitions and those whose state must be
// reloaded because they were revoked since the last call.
func (r *Runner) assignment() (wanted []int32, stale map[int32]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p := range r.wanted {
		wanted = append(wanted, p)
	}
	sort.Slice(wanted, func(i, j int) bool { return wanted[i] < wanted[j] })
	stale, r.revoked = r.revoked, map[int32]bool{}
	return wanted, stale
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
