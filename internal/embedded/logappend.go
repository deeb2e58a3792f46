package embedded

import (
	"encoding/binary"
	"hash/crc32"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record batch layout (KIP-98): Length at bytes 8–11 counts what follows
// it; the CRC at bytes 17–20 covers everything from the attributes (byte
// 21) on; attribute bits 0–2 are the compression codec, bit 5 marks
// control batches.
const (
	batchLengthAt      = 8
	batchCRCAt         = 17
	batchCRCFrom       = 21
	attrCompression    = 0x0007
	attrControl        = 0x0020
	timestampTypeKey   = "message.timestamp.type"
	timestampTypeValue = "LogAppendTime"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// honourLogAppendTime makes the embedded broker stamp records with its own
// clock in topics configured message.timestamp.type=LogAppendTime, as
// Kafka does. kfake stores and describes that config but ignores it on
// produce; it only stamps a batch whose producer set the LogAppendTime
// attribute (which no producer does), and then serves it with a CRC that
// no longer matches (kfake 00_produce.go rewrites the timestamps after the
// CRC was checked and keeps the old CRC: kgo consumers refuse the batch).
// provbus's ordering depends on broker time (the directory's watermarks,
// processors/directory/watermark.go), so before kfake appends a batch to
// such a topic this rewrites it: every record's timestamp becomes the
// broker's clock at the append (the batch's first and max timestamp, every
// delta 0), stored uncompressed with a fresh CRC. Readers see the append
// time, as on Kafka; the batch's timestamp-type attribute stays CreateTime,
// the one difference.
func honourLogAppendTime(k *kfake.Cluster) {
	k.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		k.KeepControl()
		now := time.Now().UnixMilli()
		for i := range req.(*kmsg.ProduceRequest).Topics {
			t := &req.(*kmsg.ProduceRequest).Topics[i]
			if !logAppendTime(k, t.Topic, t.TopicID) {
				continue
			}
			for j := range t.Partitions {
				t.Partitions[j].Records = stampedByBroker(t.Partitions[j].Records, now)
			}
		}
		return nil, nil, false // kfake handles the (rewritten) request
	})
}

// logAppendTime reports whether the topic (named, or by id from produce
// v13 on) is configured with broker time. TopicInfo is served by the
// cluster's loop while a control function runs.
func logAppendTime(k *kfake.Cluster, topic string, id [16]byte) bool {
	var info *kfake.TopicInfo
	if topic != "" {
		info = k.TopicInfo(topic)
	} else {
		info = k.TopicIDInfo(id)
	}
	if info == nil {
		return false
	}
	v := info.Configs[timestampTypeKey]
	return v != nil && *v == timestampTypeValue
}

// stampedByBroker returns the record batch raw with every record stamped
// now; anything it cannot parse is returned as is, for kfake to refuse.
func stampedByBroker(raw []byte, now int64) []byte {
	var b kmsg.RecordBatch
	if err := b.ReadFrom(raw); err != nil || b.Magic != 2 || b.Attributes&attrControl != 0 {
		return raw
	}
	records, err := kgo.DefaultDecompressor().Decompress(b.Records, kgo.CompressionCodecType(b.Attributes&attrCompression))
	if err != nil {
		return raw
	}
	var stamped []byte
	for range b.NumRecords {
		rec := kmsg.NewRecord()
		if err := rec.ReadFrom(records); err != nil {
			return raw
		}
		length, n := binary.Varint(records)
		if n <= 0 || int64(n)+length > int64(len(records)) {
			return raw
		}
		records = records[int64(n)+length:]
		rec.TimestampDelta, rec.TimestampDelta64 = 0, 0
		// Length prefixes the record and shrank with the delta: encode
		// once with 0 (a one-byte varint) to learn the body's size.
		rec.Length = 0
		rec.Length = int32(len(rec.AppendTo(nil)) - 1)
		stamped = rec.AppendTo(stamped)
	}
	if len(records) > 0 {
		return raw
	}
	b.Attributes &^= attrCompression
	b.FirstTimestamp, b.MaxTimestamp = now, now
	b.Records = stamped
	out := b.AppendTo(make([]byte, 0, 12+len(raw)))
	binary.BigEndian.PutUint32(out[batchLengthAt:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[batchCRCAt:], crc32.Checksum(out[batchCRCFrom:], castagnoli))
	return out
}
