package stream

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// slabSize is the size of the byte slabs encoded values are appended to:
// one allocation serves hundreds of records, and a slab is never reused
// while a record may still point into it (the GC frees it after the
// produce), so buffers are shared without copying.
const slabSize = 256 << 10

// producer is the part of the client Output writes to: the transact
// session in ExactlyOnce mode, the plain client in AtLeastOnce mode.
type producer interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

// Output collects the records of one poll. Every record is produced
// asynchronously at once (memory stays bounded by the client's
// MaxBufferedRecords, so a 100 000-account fan-out streams) and is part of
// the poll's transaction.
type Output struct {
	ctx   context.Context
	prod  producer
	codec *schemas.Codec
	parts map[string]int32 // physical topic → partitions
	ns    topology.Namespace
	now   time.Time

	slab []byte

	mu       sync.Mutex
	firstErr error
	produced int

	// counts are the open poll's records per output topic, for the
	// metrics (nil without them); a map lookup and an add per record.
	counts map[string]*produceCount

	// ends are the end offsets listed for the open poll, by physical
	// topic (EndOffsets); lister lists them.
	ends   map[string]map[int32]int64
	lister func(ctx context.Context, topic string) (map[int32]int64, error)
}

var keyPartitioner = kgo.StickyKeyPartitioner(nil).ForTopic("")

// PartitionOf returns the partition Kafka's default partitioner (murmur2,
// as Java and librdkafka) gives key among n partitions.
func PartitionOf(key []byte, n int32) int32 {
	return int32(keyPartitioner.Partition(&kgo.Record{Key: key}, int(n)))
}

// Event encodes ev for topic (the topic must be in Spec.Outputs and
// prepared with records.Use) and produces it keyed by key, partitioned by
// the key, with the event_type, source and origin headers.
func (o *Output) Event(topic, key string, ev *schemas.Event) error {
	return o.EventTo([]string{topic}, key, ev)
}

// reserve starts a new slab unless n more bytes fit in this one.
func (o *Output) reserve(n int) {
	if len(o.slab) > slabSize-n {
		o.slab = make([]byte, 0, max(slabSize, n))
	}
}

// EventTo writes ev to every one of topics, keyed by key, as Event does,
// Avro-encoding it once: topics whose value schemas have the first topic's
// layout (every handler topic's: they differ only in the record's name)
// get that encoding behind their own schema id (Codec.EncodeLike). The
// router fans an event out to its handler topics this way.
func (o *Output) EventTo(topics []string, key string, ev *schemas.Event) error {
	var first []byte
	for i, topic := range topics {
		o.reserve(4096 + len(first))
		start := len(o.slab)
		buf, err := o.codec.EncodeLike(o.slab, topic, ev, first, topics[0])
		if err != nil {
			return err
		}
		o.slab = buf
		value := buf[start:len(buf):len(buf)]
		if i == 0 {
			first = value
		}
		r := records.EventRecord(topic, key, value, ev)
		if err := o.Record(r, r.Key); err != nil {
			return err
		}
	}
	return nil
}

// Record produces r partitioned by partitionKey (Kafka's default
// partitioning of that key), which may differ from r.Key: membership rows
// keyed "<customer>/<account>" are placed by the customer.
func (o *Output) Record(r *kgo.Record, partitionKey []byte) error {
	n, ok := o.parts[o.ns.Topic(r.Topic)]
	if !ok {
		return fmt.Errorf("stream: topic %s is not in Spec.Outputs", r.Topic)
	}
	return o.RecordTo(r, PartitionOf(partitionKey, n))
}

// RecordTo produces r to an explicit partition, e.g. a changelog record to
// the partition of the input it belongs to.
func (o *Output) RecordTo(r *kgo.Record, partition int32) error {
	r.Topic = o.ns.Topic(r.Topic) // processors name topics logically
	n, ok := o.parts[r.Topic]
	if !ok {
		return fmt.Errorf("stream: topic %s is not in Spec.Outputs", r.Topic)
	}
	if partition < 0 || partition >= n {
		return fmt.Errorf("stream: partition %d out of range for %s (%d partitions)", partition, r.Topic, n)
	}
	r.Partition = partition
	o.produced++
	if c := o.counts[r.Topic]; c != nil {
		c.n++
	}
	o.prod.Produce(o.ctx, r, o.promise)
	return nil
}

// Partitions returns the partition count of an output topic (0 if it is not
// in Spec.Outputs).
func (o *Output) Partitions(topic string) int32 { return o.parts[o.ns.Topic(topic)] }

// EndOffsets implements Partitions: the poll's end offsets of topic,
// listed at the first call of the poll.
func (o *Output) EndOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	phys := o.ns.Topic(topic)
	if ends, ok := o.ends[phys]; ok {
		return ends, nil
	}
	if o.lister == nil {
		return nil, fmt.Errorf("stream: no end offsets outside a runner (topic %s)", topic)
	}
	ends, err := o.lister(ctx, phys)
	if err != nil {
		return nil, err
	}
	if o.ends == nil {
		o.ends = map[string]map[int32]int64{}
	}
	o.ends[phys] = ends
	return ends, nil
}

// newPoll forgets the previous poll's end offsets.
func (o *Output) newPoll() { clear(o.ends) }

// Now is the time the poll started; processors stamp records with it so a
// poll is deterministic within itself.
func (o *Output) Now() time.Time { return o.now }

func (o *Output) promise(_ *kgo.Record, err error) {
	if err == nil {
		return
	}
	o.mu.Lock()
	if o.firstErr == nil {
		o.firstErr = err
	}
	o.mu.Unlock()
}

// err returns the first produce failure of the poll.
func (o *Output) err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.firstErr
}

func (o *Output) reset(ctx context.Context, now time.Time) {
	o.ctx = ctx
	o.now = now
	o.produced = 0
	o.mu.Lock()
	o.firstErr = nil
	o.mu.Unlock()
}
