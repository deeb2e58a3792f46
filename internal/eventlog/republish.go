package eventlog

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// republishBatch is how many records go into one ProduceSync: large enough
// to fill batches, small enough that a failure is reported promptly.
const republishBatch = 1000

// Republisher copies selected records to another topic byte for byte: the
// same key, value (so the same schema id and event_id) and headers. The
// producer is idempotent with acks=all (franz-go's defaults, kept on
// purpose) and every result is checked. Partitioning is Kafka's murmur2 of
// the key, so an entity's records stay in order in the target too. The
// record timestamp is the produce time: a re-drive is a new delivery, and a
// handler topic's time-based retention should count from it.
type Republisher struct {
	cl    *kgo.Client
	topic string
	buf   []*kgo.Record
	sent  int64
}

// NewRepublisher checks that topic exists (a re-drive never creates topics)
// and returns a Republisher to it.
func NewRepublisher(ctx context.Context, dial Dial, topic string) (*Republisher, error) {
	cl, err := dial(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))
	if err != nil {
		return nil, err
	}
	tds, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err == nil {
		err = tds.Error()
	}
	if err != nil || !tds.Has(topic) {
		cl.Close()
		if err == nil {
			err = fmt.Errorf("%w: %s", ErrUnknownTopic, topic)
		}
		return nil, fmt.Errorf("--to-topic %s: %w", topic, asUnknown(err, topic))
	}
	return &Republisher{cl: cl, topic: topic}, nil
}

// Add queues a copy of r and produces the queue once it is full.
func (p *Republisher) Add(ctx context.Context, r *kgo.Record) error {
	headers := make([]kgo.RecordHeader, len(r.Headers))
	copy(headers, r.Headers)
	p.buf = append(p.buf, &kgo.Record{Topic: p.topic, Key: r.Key, Value: r.Value, Headers: headers})
	if len(p.buf) >= republishBatch {
		return p.Flush(ctx)
	}
	return nil
}

// Flush produces the queued records and waits for every acknowledgement.
func (p *Republisher) Flush(ctx context.Context) error {
	if len(p.buf) == 0 {
		return nil
	}
	if err := p.cl.ProduceSync(ctx, p.buf...).FirstErr(); err != nil {
		return fmt.Errorf("re-publish to %s: %w", p.topic, err)
	}
	p.sent += int64(len(p.buf))
	clear(p.buf)
	p.buf = p.buf[:0]
	return nil
}

// Sent is the number of records acknowledged so far.
func (p *Republisher) Sent() int64 { return p.sent }

// Close releases the producer; call Flush first.
func (p *Republisher) Close() { p.cl.Close() }
