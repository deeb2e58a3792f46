// Package metrics defines every Prometheus metric of the provbus pipeline
// once: names, labels, buckets and help text. The names are a contract
// (docs/operations.md, deploy/grafana/provbus.json); change one only on
// purpose.
//
// A process builds one Pipeline on a registry and hands it to its
// components through their options (ingest.WithMetrics,
// stream.WithMetrics); Handler serves the registry on /metrics. Hot paths
// get pre-resolved children (a prometheus.Counter per label set, cached
// here), so counting a record is an atomic add, not a label lookup. Every
// method is safe on a nil *Pipeline and then returns a no-op metric, so a
// component built without metrics needs no nil checks.
package metrics

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Outcomes of provbus_ingest_events_total. A rejection is "rejected_" plus
// one of the Reject* reasons.
const (
	OutcomeAccepted    = "accepted"
	OutcomeQuarantined = "quarantined"
)

// Rejection reasons: the outcome label is Rejected(reason).
const (
	RejectBadRequest  = "bad_request"            // 400: unparseable or invalid body
	RejectAuth        = "unauthorized"           // 401
	RejectTooLarge    = "too_large"              // 413
	RejectMediaType   = "unsupported_media_type" // 415
	RejectForbidden   = "forbidden"              // 403: address not in the source's allow-list
	RejectRateLimited = "rate_limited"           // 429: the source's or the credential's rate
	RejectUnavailable = "unavailable"            // 503: Kafka did not acknowledge in time
	RejectInternal    = "internal"               // 500
)

// Rejected returns the outcome label of a rejection.
func Rejected(reason string) string { return "rejected_" + reason }

// TypeUnparsed is the type label of requests refused before their events
// were parsed (401, 413, 415, most 400s): there is no event type to name.
const TypeUnparsed = "unparsed"

// TypeOther replaces the type label once MaxEventSeries label sets exist:
// event types of quarantined events are whatever a sender wrote, and a
// sender must not be able to grow the scrape without bound.
const TypeOther = "other"

// MaxEventSeries bounds the label sets of provbus_ingest_events_total.
const MaxEventSeries = 2000

// Pipeline holds the pipeline's metrics on one registry.
type Pipeline struct {
	reg *prometheus.Registry

	ingestEvents   *prometheus.CounterVec
	ingestRequests *prometheus.CounterVec
	ingestLatency  *prometheus.HistogramVec
	produced       *prometheus.CounterVec
	fanout         prometheus.Histogram
	processLatency *prometheus.HistogramVec
	dedupHits      prometheus.Counter
	dedupEvicted   prometheus.Counter
	dlq            *prometheus.CounterVec
	lag            *prometheus.GaugeVec
	directory      prometheus.Gauge
	blockedSince   prometheus.Gauge

	events   children[[3]string]
	requests children[requestKey]
	topics   children[string]

	mu      sync.Mutex
	clients map[string]bool // kprom client labels in use (kafka.go)
}

type requestKey struct {
	source string
	code   int
}

// New registers the pipeline's metrics, Go runtime and process collectors
// on reg (nil: a new registry). Calling New twice with the same registry
// (tests, a component restarted in-process) returns a Pipeline sharing the
// first one's collectors instead of failing.
func New(reg *prometheus.Registry) *Pipeline {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	p := &Pipeline{
		reg:     reg,
		events:  children[[3]string]{max: MaxEventSeries},
		clients: map[string]bool{},
	}
	p.ingestEvents = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "provbus_ingest_events_total",
		Help: "Events received by ingest, by source, canonical event type and outcome (accepted, quarantined, rejected_<reason>).",
	}, []string{"source", "type", "outcome"}))
	p.ingestRequests = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "provbus_ingest_requests_total",
		Help: "Source requests answered by ingest, by source and HTTP status code.",
	}, []string{"source", "code"}))
	p.ingestLatency = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "provbus_ingest_latency_seconds",
		Help: "Ingest request received to every record acknowledged by Kafka (acks=all), or to the 503 when it was not.",
		// Up to the 10 s default produce timeout and a little past it.
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"source"}))
	p.produced = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "provbus_records_produced_total",
		Help: "Records acknowledged by Kafka (ingest) or committed in a processor transaction, by topic.",
	}, []string{"topic"}))
	p.fanout = register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "provbus_dispatch_fanout_size",
		Help: "Inherited account events written per dispatched customer or product event.",
		// From "customer without accounts" to enterprise customers with
		// a hundred thousand accounts.
		Buckets: []float64{0, 1, 2, 5, 10, 25, 50, 100, 250, 1000, 5000, 25000, 100000},
	}))
	p.processLatency = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "provbus_process_latency_seconds",
		Help: "Per processor and poll: records returned by the poll to their outputs committed (one transaction).",
		// A poll's transaction is well under a second; a 100 000-account
		// fan-out about one.
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"processor"}))
	p.dedupHits = register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "provbus_dedup_hits_total",
		Help: "Events the router dropped because their event_id was already routed within process.dedup_window.",
	}))
	p.dedupEvicted = register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "provbus_dedup_evictions_total",
		Help: "Event ids the router forgot before process.dedup_window because a partition reached process.dedup_max_ids (oldest first).",
	}))
	p.dlq = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "provbus_dlq_records_total",
		Help: "Records sent to provbus.dlq, by reason (the provbus.dlq.reason header) and source topic.",
	}, []string{"reason", "topic"}))
	p.lag = register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "provbus_consumer_lag",
		Help: "Records between a processor's processed position and the partition's high watermark, as of its last fetch of the partition.",
	}, []string{"group", "topic", "partition"}))
	p.directory = register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "provbus_directory_accounts",
		Help: "Accounts this process's directory partitions know (account to customer and product).",
	}))
	p.blockedSince = register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "provbus_dispatch_blocked_since_seconds",
		Help: "Unix time since which this process's dispatcher has been waiting for the directory's watermark, 0 when it is not waiting: alert on time() - x > 60 and x > 0.",
	}))
	register(reg, collectors.NewGoCollector())
	register(reg, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return p
}

// register registers c, or returns the collector already registered under
// the same description.
func register[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// Only a programming error (two definitions of one name) gets
		// here: fail at start, not with an empty scrape.
		panic(err)
	}
	return c
}

// Registry returns the registry the metrics are on (nil for a nil
// Pipeline).
func (p *Pipeline) Registry() *prometheus.Registry {
	if p == nil {
		return nil
	}
	return p.reg
}

// Handler serves the registry in the Prometheus exposition format.
func (p *Pipeline) Handler() http.Handler {
	if p == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{Registry: p.reg})
}

// IngestEvent returns the counter of events of source and event type typ
// with outcome. Past MaxEventSeries label sets the type is TypeOther.
func (p *Pipeline) IngestEvent(source, typ, outcome string) prometheus.Counter {
	if p == nil {
		return nop
	}
	return p.events.get([3]string{source, typ, outcome},
		func() prometheus.Counter { return p.ingestEvents.WithLabelValues(source, typ, outcome) },
		func() prometheus.Counter { return p.ingestEvents.WithLabelValues(source, TypeOther, outcome) })
}

// IngestRequest returns the counter of source requests answered with code.
func (p *Pipeline) IngestRequest(source string, code int) prometheus.Counter {
	if p == nil {
		return nop
	}
	return p.requests.get(requestKey{source, code},
		func() prometheus.Counter { return p.ingestRequests.WithLabelValues(source, strconv.Itoa(code)) }, nil)
}

// IngestLatency returns the ingest latency histogram of source.
func (p *Pipeline) IngestLatency(source string) prometheus.Observer {
	if p == nil {
		return nop
	}
	return p.ingestLatency.WithLabelValues(source)
}

// Produced returns the counter of records produced to topic. Callers on a
// per-record path should keep the result (see the runner) rather than call
// this per record, though it is cheap (a read-locked map lookup).
func (p *Pipeline) Produced(topic string) prometheus.Counter {
	if p == nil {
		return nop
	}
	return p.topics.get(topic, func() prometheus.Counter { return p.produced.WithLabelValues(topic) }, nil)
}

// FanoutSize returns the dispatch fan-out histogram.
func (p *Pipeline) FanoutSize() prometheus.Observer {
	if p == nil {
		return nop
	}
	return p.fanout
}

// ProcessLatency returns the poll-to-commit histogram of processor (the
// group id without "provbus-": directory, dispatch, route).
func (p *Pipeline) ProcessLatency(processor string) prometheus.Observer {
	if p == nil {
		return nop
	}
	return p.processLatency.WithLabelValues(processor)
}

// DedupEvictions returns the counter of event ids the router's
// de-duplication forgot early, at its per-partition memory bound.
func (p *Pipeline) DedupEvictions() prometheus.Counter {
	if p == nil {
		return nop
	}
	return p.dedupEvicted
}

// DedupHits returns the de-duplication hit counter.
func (p *Pipeline) DedupHits() prometheus.Counter {
	if p == nil {
		return nop
	}
	return p.dedupHits
}

// DLQ returns the counter of records from topic sent to the DLQ for
// reason. DLQ records are rare, so it is not cached.
func (p *Pipeline) DLQ(reason, topic string) prometheus.Counter {
	if p == nil {
		return nop
	}
	return p.dlq.WithLabelValues(reason, topic)
}

// Lag returns the consumer lag gauge of one partition of group; keep it
// while the partition is assigned and call ForgetLag when it is not.
func (p *Pipeline) Lag(group, topic string, partition int32) prometheus.Gauge {
	if p == nil {
		return nop
	}
	return p.lag.WithLabelValues(group, topic, strconv.Itoa(int(partition)))
}

// ForgetLag removes the lag series of a partition this member no longer
// owns, so its last value does not linger next to the new owner's.
func (p *Pipeline) ForgetLag(group, topic string, partition int32) {
	if p == nil {
		return
	}
	p.lag.DeleteLabelValues(group, topic, strconv.Itoa(int(partition)))
}

// DirectoryAccounts returns the directory size gauge.
func (p *Pipeline) DirectoryAccounts() prometheus.Gauge {
	if p == nil {
		return nop
	}
	return p.directory
}

// DispatchBlockedSince returns the gauge of the dispatcher's wait for the
// directory (Unix seconds it started, 0 when not waiting).
func (p *Pipeline) DispatchBlockedSince() prometheus.Gauge {
	if p == nil {
		return nop
	}
	return p.blockedSince
}

// nop is the metric of a nil Pipeline.
var nop nopMetric

type nopMetric struct{ prometheus.Metric }

func (nopMetric) Inc()                             {}
func (nopMetric) Dec()                             {}
func (nopMetric) Add(float64)                      {}
func (nopMetric) Sub(float64)                      {}
func (nopMetric) Set(float64)                      {}
func (nopMetric) SetToCurrentTime()                {}
func (nopMetric) Observe(float64)                  {}
func (nopMetric) Describe(chan<- *prometheus.Desc) {}
func (nopMetric) Collect(chan<- prometheus.Metric) {}
