package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// deliverVecs are the metrics of `provbus deliver`, registered on first use
// so processes that deliver nothing do not export empty families.
type deliverVecs struct {
	attempts *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	pending  *prometheus.GaugeVec
	oldest   *prometheus.GaugeVec
	circuit  *prometheus.GaugeVec
	paused   *prometheus.GaugeVec
}

func (p *Pipeline) deliverVecs() *deliverVecs {
	return &deliverVecs{
		attempts: register(p.reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "provbus_deliver_attempts_total",
			Help: "Delivery attempts, by handler, outcome (delivered, retry, failed, blocked) and status class (2xx, 4xx, 5xx, none for no response).",
		}, []string{"handler", "outcome", "class"})),
		latency: register(p.reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "provbus_deliver_latency_seconds",
			Help: "Delivery request sent to response read (or to the error), by handler.",
			// Up to the 10 s default timeout and a little past it.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"handler"})),
		pending: register(p.reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "provbus_deliver_pending",
			Help: "Events of this instance's partitions not yet final (in flight, retrying, blocked or queued behind those), by handler.",
		}, []string{"handler"})),
		oldest: register(p.reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "provbus_deliver_oldest_pending_seconds",
			Help: "Age of the oldest pending event's first attempt, by handler (0: none).",
		}, []string{"handler"})),
		circuit: register(p.reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "provbus_deliver_circuit_open",
			Help: "1 while the handler's circuit breaker is open or probing, else 0.",
		}, []string{"handler"})),
		paused: register(p.reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "provbus_deliver_paused",
			Help: "1 while the handler is paused by an operator (provbus deliver pause), else 0.",
		}, []string{"handler"})),
	}
}

// Deliver holds one handler's delivery metrics. A nil *Pipeline gives
// no-op metrics.
type Deliver struct {
	vecs    *deliverVecs
	handler string
	Latency prometheus.Observer
	Pending prometheus.Gauge
	Oldest  prometheus.Gauge
	Circuit prometheus.Gauge
	Paused  prometheus.Gauge
}

// Deliver returns the delivery metrics of handler.
func (p *Pipeline) Deliver(handler string) *Deliver {
	if p == nil {
		return &Deliver{Latency: nop, Pending: nop, Oldest: nop, Circuit: nop, Paused: nop}
	}
	v := p.deliverVecs()
	return &Deliver{
		vecs: v, handler: handler,
		Latency: v.latency.WithLabelValues(handler), Pending: v.pending.WithLabelValues(handler),
		Oldest: v.oldest.WithLabelValues(handler), Circuit: v.circuit.WithLabelValues(handler),
		Paused: v.paused.WithLabelValues(handler),
	}
}

// Attempt counts one attempt with outcome and HTTP status (0: none).
func (d *Deliver) Attempt(outcome string, status int) {
	if d.vecs == nil {
		return
	}
	class := "none"
	if status > 0 {
		class = strconv.Itoa(status/100) + "xx"
	}
	d.vecs.attempts.WithLabelValues(d.handler, outcome, class).Inc()
}
