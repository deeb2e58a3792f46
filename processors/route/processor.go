package route

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// GroupID is the consumer group (and transactional id prefix) of the
// router. It must never change once released: a new group id re-reads every
// domain topic from the start.
const GroupID = "provbus-route"

// ChangelogTopic is the compacted topic holding the de-duplication state
// (see Change). It needs as many partitions as the widest input topic.
const ChangelogTopic = topology.TopicRouteDedup

// Processor is the router's pure core with its state: de-duplication in
// front of the catalog fan-out. The runner decodes each input record once,
// calls Process, produces the Outs and Dedup.Changes in one transaction
// with the input offsets, then calls Dedup.Commit (or Dedup.Abort).
type Processor struct {
	Router *Router
	Dedup  *Dedup

	hits prometheus.Counter // de-duplication hits; nil: not counted
}

// NewProcessor returns the router processor over cat with a de-duplication
// window (process.dedup_window; ≤ 0 turns de-duplication off).
func NewProcessor(cat *topology.Catalog, window time.Duration, opts ...Option) *Processor {
	return &Processor{Router: New(cat, opts...), Dedup: NewDedup(window)}
}

// Process appends to dst the records for one decoded input event read from
// tp with the record's key and timestamp. A duplicate within the window
// appends nothing. Errors wrap ErrUnroutable (poison, for the DLQ).
func (p *Processor) Process(dst []Out, tp Partition, key []byte, ts time.Time, ev *schemas.Event) ([]Out, error) {
	// Route first so that an unroutable event is not remembered and an
	// event nobody subscribes to costs no state.
	n := len(dst)
	dst, err := p.Router.Route(dst, ev, key)
	if err != nil || len(dst) == n {
		return dst, err
	}
	if !p.Dedup.Admit(tp, ev.EventID, ts) {
		if p.hits != nil {
			p.hits.Inc()
		}
		return dst[:n], nil
	}
	return dst, nil
}
