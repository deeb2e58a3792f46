package schemas

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
)

// TestAppendDeliveryLikeAvro: the hand encoder writes, byte for byte, what
// hamba/avro writes for the same Delivery under DeliverySchema, over
// random records (every integer size and sign, empty and multi-byte
// strings, times before 1970 and with sub-millisecond parts, next_at set
// or not), and hamba/avro reads it back as it was.
func TestAppendDeliveryLikeAvro(t *testing.T) {
	text, err := DeliverySchema()
	if err != nil {
		t.Fatal(err)
	}
	schema, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if schema.Fingerprint() != deliveryFingerprint() {
		t.Fatal("the hand encoder is not used for DeliverySchema")
	}
	rnd := rand.New(rand.NewPCG(3, 13))
	str := func() string {
		return strings.Repeat([]string{"", "a", "é", "\U0001F600", "x\x00y"}[rnd.IntN(5)], rnd.IntN(80))
	}
	num := func() int64 {
		return rnd.Int64() >> rnd.IntN(64) * int64(1-2*rnd.IntN(2))
	}
	when := func() time.Time {
		return time.Unix(rnd.Int64N(8e9)-4e9, rnd.Int64N(1e9)).In(time.FixedZone("z", 3600*(rnd.IntN(24)-12)))
	}
	for i := range 5000 {
		d := Delivery{Handler: str(), EventID: str(), EventType: str(), Key: str(), Partition: int32(num()), Offset: num(),
			Attempt: int32(num()), StatusCode: int32(num()), Outcome: str(), LatencyMS: num(), Error: str(), Response: str(), At: when()}
		if rnd.IntN(2) == 0 {
			next := when()
			d.NextAt = &next
		}
		want, err := avro.Marshal(schema, &d)
		if err != nil {
			t.Fatal(err)
		}
		prefix := []byte{0, 1, 2}
		got := appendDelivery(prefix, &d)
		if !bytes.Equal(got[:3], prefix) || !bytes.Equal(got[3:], want) {
			t.Fatalf("delivery %d %+v:\n got %x\nwant %x", i, d, got[3:], want)
		}
		var back Delivery
		if err := avro.Unmarshal(schema, got[3:], &back); err != nil {
			t.Fatal(err)
		}
		if back.Key != d.Key || back.Offset != d.Offset || back.At.UnixMilli() != d.At.Truncate(time.Millisecond).UnixMilli() || (back.NextAt == nil) != (d.NextAt == nil) {
			t.Fatalf("read back %+v, wrote %+v", back, d)
		}
	}
}
