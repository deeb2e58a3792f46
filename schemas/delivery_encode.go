package schemas

import (
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// deliveryFingerprint is the fingerprint of DeliverySchema, parsed once:
// the schema appendDelivery writes.
var deliveryFingerprint = sync.OnceValue(func() [32]byte {
	text, err := DeliverySchema()
	if err != nil {
		return [32]byte{}
	}
	s, err := Parse(text)
	if err != nil {
		return [32]byte{}
	}
	return s.Fingerprint()
})

// deliveryEncoder writes provbus.deliveries values: by hand when schema
// is DeliverySchema (one record per delivery attempt: the reflection of
// the generic encoder was most of its cost), else through hamba/avro.
func deliveryEncoder(schema avro.Schema) sr.EncodingOpt {
	if schema.Fingerprint() != deliveryFingerprint() {
		return appendEncoder(schema)
	}
	return sr.AppendEncodeFn(func(dst []byte, v any) ([]byte, error) {
		return appendDelivery(dst, v.(*Delivery)), nil
	})
}

// appendDelivery appends the Avro binary encoding of d under
// DeliverySchema, field by field in schema order: the bytes hamba/avro
// writes (TestAppendDeliveryLikeAvro).
func appendDelivery(dst []byte, d *Delivery) []byte {
	dst = appendAvroString(dst, d.Handler)
	dst = appendAvroString(dst, d.EventID)
	dst = appendAvroString(dst, d.EventType)
	dst = appendAvroString(dst, d.Key)
	dst = appendAvroLong(dst, int64(d.Partition)) // an int's zigzag is its long's
	dst = appendAvroLong(dst, d.Offset)
	dst = appendAvroLong(dst, int64(d.Attempt))
	dst = appendAvroLong(dst, int64(d.StatusCode))
	dst = appendAvroString(dst, d.Outcome)
	dst = appendAvroLong(dst, d.LatencyMS)
	dst = appendAvroString(dst, d.Error)
	dst = appendAvroString(dst, d.Response)
	// timestamp-millis as hamba/avro computes it.
	dst = appendAvroLong(dst, d.At.Unix()*1e3+int64(d.At.Nanosecond()/1e6))
	if d.NextAt == nil {
		return appendAvroLong(dst, 0) // union branch "null"
	}
	dst = appendAvroLong(dst, 1)
	return appendAvroLong(dst, d.NextAt.Unix()*1e3+int64(d.NextAt.Nanosecond()/1e6))
}

// appendAvroLong appends i zigzag-encoded as a variable-length integer.
func appendAvroLong(dst []byte, i int64) []byte {
	u := uint64(i)<<1 ^ uint64(i>>63)
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

// appendAvroString appends s as its length then its bytes.
func appendAvroString(dst []byte, s string) []byte {
	return append(appendAvroLong(dst, int64(len(s))), s...)
}
