package console

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/eventlog"
)

// Rates come from Kafka itself: two samples of end offsets (produced) and
// of committed group offsets (consumed), divided by the time between them.
// A sample is kept for statsTTL so a page and its live refresh cost one
// round of admin requests however many readers there are, and the rate is
// taken over at least rateSpan so it does not jump with each batch.
const (
	statsTTL   = 2 * time.Second
	rateSpan   = 10 * time.Second
	maxSamples = 64
)

// topicStat is one topic's offsets now.
type topicStat struct {
	name       string
	Exists     bool
	Partitions int
	Offsets    int64   // Σ end − start: records, plus commit markers in transactional topics
	End        int64   // Σ end offsets, for the rate
	Rate       float64 // offsets per second over the last rateSpan; < 0 not known yet
}

// groupStat is one consumer group's position.
type groupStat struct {
	Group     string
	State     string
	Members   int
	Lag       map[string]int64 // topic → Σ lag over its partitions
	Committed int64            // Σ committed offsets, for the rate
	Rate      float64          // offsets consumed per second
	Err       string
	small     []eventlog.Range // partitions whose lag may be only markers
}

// TotalLag is the group's lag over every topic it reads.
func (g groupStat) TotalLag() int64 {
	var n int64
	for _, l := range g.Lag {
		n += l
	}
	return n
}

type snapshot struct {
	At time.Time
	// Rated: the rates compare with an older sample (the first snapshot
	// of a process has none, and shows no rate rather than 0/s).
	Rated  bool
	Topics map[string]topicStat
	Groups map[string]groupStat
}

// sampler takes and caches snapshots.
type sampler struct {
	dial eventlog.Dial

	mu      sync.Mutex
	cl      *kgo.Client
	samples []snapshot // oldest first
}

func newSampler(dial eventlog.Dial) *sampler { return &sampler{dial: dial} }

func (s *sampler) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cl != nil {
		s.cl.Close()
		s.cl = nil
	}
}

// get returns a snapshot of topics (physical names) and every group, no
// older than statsTTL. Topics the cluster lacks are marked !Exists.
func (s *sampler) get(ctx context.Context, topics []string) (snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.samples); n > 0 && time.Since(s.samples[n-1].At) < statsTTL && covers(s.samples[n-1], topics) {
		return s.samples[n-1], nil
	}
	if s.cl == nil {
		cl, err := s.dial()
		if err != nil {
			return snapshot{}, err
		}
		s.cl = cl
	}
	snap, err := take(ctx, kadm.NewClient(s.cl), topics)
	if err == nil {
		err = s.markerLag(ctx, kadm.NewClient(s.cl), &snap)
	}
	if err != nil {
		return snapshot{}, err
	}
	s.rate(&snap)
	s.samples = append(s.samples, snap)
	if len(s.samples) > maxSamples {
		s.samples = s.samples[len(s.samples)-maxSamples:]
	}
	return snap, nil
}

func covers(s snapshot, topics []string) bool {
	for _, t := range topics {
		if _, ok := s.Topics[t]; !ok {
			return false
		}
	}
	return true
}

// rate fills snap's rates against the newest sample at least rateSpan
// older (or the oldest there is).
func (s *sampler) rate(snap *snapshot) {
	var base *snapshot
	for i := len(s.samples) - 1; i >= 0; i-- {
		base = &s.samples[i]
		if snap.At.Sub(base.At) >= rateSpan {
			break
		}
	}
	if base == nil {
		return
	}
	dt := snap.At.Sub(base.At).Seconds()
	if dt <= 0 {
		return
	}
	snap.Rated = true
	for name, t := range snap.Topics {
		if b, ok := base.Topics[name]; ok && t.End >= b.End {
			t.Rate = float64(t.End-b.End) / dt
			snap.Topics[name] = t
		}
	}
	for name, g := range snap.Groups {
		if b, ok := base.Groups[name]; ok && g.Committed >= b.Committed {
			g.Rate = float64(g.Committed-b.Committed) / dt
			snap.Groups[name] = g
		}
	}
}

// take asks the cluster for the offsets of topics and the lag of every
// group: three admin requests, whatever the number of topics.
func take(ctx context.Context, adm *kadm.Client, topics []string) (snapshot, error) {
	snap := snapshot{At: time.Now(), Topics: map[string]topicStat{}, Groups: map[string]groupStat{}}
	for _, t := range topics {
		snap.Topics[t] = topicStat{name: t, Rate: -1}
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return snap, err
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return snap, err
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			return
		}
		t := snap.Topics[o.Topic]
		t.Exists = true
		t.Partitions++
		t.End += o.Offset
		if st, ok := starts.Lookup(o.Topic, o.Partition); ok && st.Err == nil {
			t.Offsets += o.Offset - st.Offset
		}
		snap.Topics[o.Topic] = t
	})
	lags, err := adm.Lag(ctx)
	if err != nil {
		return snap, err
	}
	lags.Each(func(l kadm.DescribedGroupLag) {
		g := groupStat{Group: l.Group, State: l.State, Members: len(l.Members), Lag: map[string]int64{}, Rate: -1}
		if err := l.Error(); err != nil {
			g.Err = err.Error()
		}
		for topic, ps := range l.Lag {
			for _, m := range ps {
				if m.Err != nil {
					continue
				}
				g.Lag[topic] += m.Lag
				g.Committed += m.Commit.At
				if m.Lag > 0 && m.Lag <= maxMarkerLag {
					g.small = append(g.small, eventlog.Range{Topic: topic, Partition: m.Partition, Start: m.Commit.At, End: m.End.Offset})
				}
			}
		}
		snap.Groups[l.Group] = g
	})
	return snap, nil
}

// maxMarkerLag: a partition lagging by at most this many offsets is
// checked for records, because its lag may be only transaction markers.
const maxMarkerLag = 4

// markerLag corrects small lags for transaction markers. A transactional
// topic ends each transaction with a commit marker, an offset no consumer
// ever receives, so a group that has read everything still lags by one per
// partition; shown as is, every exactly-once reader would look behind.
// For each partition lagging by at most maxMarkerLag it reads those few
// offsets (up to the last stable offset) and counts what is a record.
func (s *sampler) markerLag(ctx context.Context, adm *kadm.Client, snap *snapshot) error {
	var ranges []eventlog.Range
	topics := map[string]bool{}
	for _, g := range snap.Groups {
		for _, r := range g.small {
			ranges = append(ranges, r)
			topics[r.Topic] = true
		}
	}
	if len(ranges) == 0 {
		return nil
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	stable, err := adm.ListCommittedOffsets(ctx, names...)
	if err != nil {
		return err
	}
	// One read covers a partition once, from the smallest commit among
	// the groups, and counts records per offset.
	type tp struct {
		t string
		p int32
	}
	span := map[tp]eventlog.Range{}
	for _, r := range ranges {
		if lso, ok := stable.Lookup(r.Topic, r.Partition); ok && lso.Err == nil && lso.Offset < r.End {
			r.End = lso.Offset
		}
		k := tp{r.Topic, r.Partition}
		if have, ok := span[k]; !ok {
			span[k] = r
		} else {
			have.Start, have.End = min(have.Start, r.Start), max(have.End, r.End)
			span[k] = have
		}
	}
	var reads []eventlog.Range
	for _, r := range span {
		if r.Len() > 0 {
			reads = append(reads, r)
		}
	}
	recordAt := map[tp][]int64{}
	err = eventlog.Read(ctx, s.dial, reads, nil, func(r *kgo.Record) error {
		k := tp{r.Topic, r.Partition}
		recordAt[k] = append(recordAt[k], r.Offset)
		return nil
	})
	if err != nil {
		return err
	}
	for name, g := range snap.Groups {
		for _, r := range g.small {
			n := int64(0)
			for _, o := range recordAt[tp{r.Topic, r.Partition}] {
				if o >= r.Start && o < r.End {
					n++
				}
			}
			if lso, ok := stable.Lookup(r.Topic, r.Partition); ok && lso.Err == nil && r.End > lso.Offset {
				n += r.End - lso.Offset // an open transaction: not yet readable, still lag
			}
			g.Lag[r.Topic] -= r.Len() - n
		}
		g.small = nil
		snap.Groups[name] = g
	}
	return nil
}

// readers returns the groups with a committed position in topic, sorted by
// name.
func (s snapshot) readers(topic string) []groupStat {
	var out []groupStat
	for _, g := range s.Groups {
		if _, ok := g.Lag[topic]; ok {
			out = append(out, g)
		}
	}
	sortGroups(out)
	return out
}
