package ingest

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the counters operators alert on: refused requests by
// status, events by outcome, and produce failures.
type metrics struct {
	gatherer  prometheus.Gatherer
	requests  *prometheus.CounterVec // source, code
	events    *prometheus.CounterVec // source, topic
	quarantin *prometheus.CounterVec // source, reason
	failures  *prometheus.CounterVec // source
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "provbus", Subsystem: "ingest", Name: "requests_total",
			Help: "Source requests answered, by source and HTTP status.",
		}, []string{"source", "code"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "provbus", Subsystem: "ingest", Name: "events_total",
			Help: "Events acknowledged by Kafka, by source and topic.",
		}, []string{"source", "topic"}),
		quarantin: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "provbus", Subsystem: "ingest", Name: "quarantined_total",
			Help: "Well-formed events written to provbus.quarantine, by source and reason.",
		}, []string{"source", "reason"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "provbus", Subsystem: "ingest", Name: "produce_failures_total",
			Help: "Requests answered 503 because Kafka did not acknowledge in time.",
		}, []string{"source"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.events, m.quarantin, m.failures} {
		// A second Server on the same registry (tests, dev restarts)
		// reuses the first one's collectors instead of failing.
		if err := reg.Register(c); err != nil {
			if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
				switch c {
				case m.requests:
					m.requests = are.ExistingCollector.(*prometheus.CounterVec)
				case m.events:
					m.events = are.ExistingCollector.(*prometheus.CounterVec)
				case m.quarantin:
					m.quarantin = are.ExistingCollector.(*prometheus.CounterVec)
				case m.failures:
					m.failures = are.ExistingCollector.(*prometheus.CounterVec)
				}
			}
		}
	}
	if g, ok := reg.(prometheus.Gatherer); ok {
		m.gatherer = g
	}
	return m
}

func (m *metrics) handler() http.Handler {
	if m.gatherer == nil {
		return promhttp.Handler()
	}
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{})
}
