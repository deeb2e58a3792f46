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
	Rate       float64 // offsets per second over the last rateSpan
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
	At     time.Time
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
		snap.Topics[t] = topicStat{name: t}
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
		g := groupStat{Group: l.Group, State: l.State, Members: len(l.Members), Lag: map[string]int64{}}
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
			}
		}
		snap.Groups[l.Group] = g
	})
	return snap, nil
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
