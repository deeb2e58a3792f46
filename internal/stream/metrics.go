package stream

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/metrics"
)

// loopMetrics is one loop's metrics with every hot-path child resolved in
// advance. A nil *loopMetrics (runner without WithMetrics) does nothing,
// so the loop calls it unconditionally.
//
// What a poll produces and sends to the DLQ is counted only when its
// transaction commits: an aborted poll is retried, and counting it twice
// would make records_produced disagree with the topics.
type loopMetrics struct {
	p       *metrics.Pipeline
	group   string
	latency prometheus.Observer
	lag     map[partKey]prometheus.Gauge
	dlq     []prometheus.Counter // DLQ records of the open poll
	polled  time.Time            // when the open poll returned
}

func newLoopMetrics(p *metrics.Pipeline, group string, out *Output) *loopMetrics {
	if p == nil {
		return nil
	}
	out.counts = make(map[string]*produceCount, len(out.parts))
	for t := range out.parts {
		out.counts[t] = &produceCount{c: p.Produced(t)}
	}
	return &loopMetrics{
		p: p, group: group,
		latency: p.ProcessLatency(strings.TrimPrefix(group, "provbus-")),
		lag:     map[partKey]prometheus.Gauge{},
	}
}

// produceCount is one output topic's records in the open poll.
type produceCount struct {
	n int
	c prometheus.Counter
}

// pollReturned starts the latency clock of a poll.
func (m *loopMetrics) pollReturned() {
	if m != nil {
		m.polled = time.Now()
	}
}

// toDLQ notes a record of topic sent to the DLQ for reason in the open
// poll. DLQ records are rare, so the label lookup is not cached.
func (m *loopMetrics) toDLQ(reason, topic string) {
	if m != nil {
		m.dlq = append(m.dlq, m.p.DLQ(reason, topic))
	}
}

// begin forgets what an aborted poll noted.
func (m *loopMetrics) begin(out *Output) {
	if m == nil {
		return
	}
	clear(m.dlq)
	m.dlq = m.dlq[:0]
	for _, c := range out.counts {
		c.n = 0
	}
}

// committed counts a committed poll: its latency, its outputs and DLQ
// records, and the lag each fetched partition has left.
func (m *loopMetrics) committed(out *Output, fs kgo.Fetches, pos map[partKey]int64) {
	if m == nil {
		return
	}
	m.latency.Observe(time.Since(m.polled).Seconds())
	for _, c := range out.counts {
		if c.n > 0 {
			c.c.Add(float64(c.n))
			c.n = 0
		}
	}
	for _, c := range m.dlq {
		c.Inc()
	}
	clear(m.dlq)
	m.dlq = m.dlq[:0]
	// The high watermark comes with every fetch response: lag from the
	// runner's own view, with no admin request on the hot path.
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if p.Err != nil || p.HighWatermark < 0 {
			return
		}
		k := partKey{p.Topic, p.Partition}
		if next, ok := pos[k]; ok {
			m.setLag(k, p.HighWatermark-next)
		}
	})
}

// setLag sets the lag of one input partition.
func (m *loopMetrics) setLag(k partKey, lag int64) {
	if m == nil {
		return
	}
	g, ok := m.lag[k]
	if !ok {
		g = m.p.Lag(m.group, k.topic, k.part)
		m.lag[k] = g
	}
	g.Set(float64(max(lag, 0)))
}

// forget drops the lag series of a partition this member no longer owns.
func (m *loopMetrics) forget(k partKey) {
	if m == nil {
		return
	}
	if _, ok := m.lag[k]; ok {
		delete(m.lag, k)
		m.p.ForgetLag(m.group, k.topic, k.part)
	}
}
