package eventlog

import "github.com/twmb/franz-go/pkg/kgo"

// kafkaPartitioner is franz-go's exact copy of Kafka's default partitioner
// for keyed records: murmur2 of the key, high bit masked, modulo the
// partition count. Every provbus producer uses it, as do Java and librdkafka
// (murmur2_random) clients, so it tells where an entity's records are.
var kafkaPartitioner = kgo.StickyKeyPartitioner(nil)

// KeyPartition returns the partition of a topic with n partitions that a
// record keyed by key is written to.
func KeyPartition(key []byte, n int) int32 {
	// A keyed record never reaches the sticky half of the partitioner, so
	// the topic name does not matter.
	tp := kafkaPartitioner.ForTopic("")
	return int32(tp.Partition(&kgo.Record{Key: key}, n))
}
