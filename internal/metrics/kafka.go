package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// KafkaNamespace prefixes the franz-go client metrics (kafka_*).
const KafkaNamespace = "kafka"

// Kafka returns the option that hooks franz-go's kprom metrics into one
// client, labelled client=<name> (e.g. "ingest", "provbus-route").
//
// A kprom.Metrics serves exactly one client: it registers its collectors
// when the client starts and unregisters them when it closes, and a second
// client on the same instance would register the same series twice. So
// every call builds its own, and the client label keeps the series of the
// clients of one process apart (the same name twice while both are open
// gets "-2", "-3" …). Fetch and produce metrics are per topic, with
// records counted and the consistent *_uncompressed_bytes_total names the
// dashboard reads.
func (p *Pipeline) Kafka(name string) kgo.Opt {
	if p == nil {
		return kgo.WithHooks()
	}
	label := p.reserve(name)
	m := kprom.NewMetrics(KafkaNamespace,
		kprom.Registerer(p.reg), kprom.Gatherer(p.reg),
		kprom.WithStaticLabel(prometheus.Labels{"client": label}),
		kprom.FetchAndProduceDetail(kprom.ByNode, kprom.ByTopic, kprom.Records, kprom.Batches,
			kprom.UncompressedBytes, kprom.CompressedBytes, kprom.ConsistentNaming),
	)
	// m first: its OnClientClosed unregisters the collectors before the
	// label is free for the next client.
	return kgo.WithHooks(m, release{p, label})
}

// reserve returns name, or name-N when a client with that label is open.
func (p *Pipeline) reserve(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	label := name
	for i := 2; p.clients[label]; i++ {
		label = name + "-" + strconv.Itoa(i)
	}
	p.clients[label] = true
	return label
}

// release frees a client label when its client closes.
type release struct {
	p     *Pipeline
	label string
}

// OnClientClosed implements kgo.HookClientClosed.
func (r release) OnClientClosed(*kgo.Client) {
	r.p.mu.Lock()
	delete(r.p.clients, r.label)
	r.p.mu.Unlock()
}
