package webhook

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/provbus/provbus/schemas"
)

func mustSchema(t testing.TB, topic string) avro.Schema {
	t.Helper()
	text, err := schemas.ValueSchema(topic)
	if err != nil {
		t.Fatal(err)
	}
	s, err := schemas.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testState is a state that depends on the account id, as deliver's does.
func testState(dst []byte, sum Summary) []byte {
	if !sum.HasAccount {
		return append(dst, "{}"...)
	}
	return append(dst, `{"account":{"i_account":`+strconv.FormatInt(sum.IAccount, 10)+`}}`...)
}

// viaDecode is the body the way it is written without AvroBody: decode
// the value as schemas.Codec does (schemas.Unmarshal), then AppendEventBody.
func viaDecode(schema avro.Schema, v []byte, key string, attempt int) ([]byte, *schemas.Event, error) {
	ev := new(schemas.Event)
	if err := schemas.Unmarshal(schema, v, ev); err != nil {
		return nil, nil, err
	}
	sum := Summary{HasAccount: ev.IAccount != nil}
	if ev.IAccount != nil {
		sum.IAccount = *ev.IAccount
	}
	body, err := AppendEventBody(nil, "Huawei::PCRF", key, ev, attempt, testState(nil, sum))
	return body, ev, err
}

// TestAvroBodyLikeDecodeThenAppend: the body written from the Avro value
// is, byte for byte, the one written from the decoded event, over random
// events written with the handler topics' schema and with a domain
// topic's (fewer ids).
func TestAvroBodyLikeDecodeThenAppend(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 8))
	gen := newEventGen(rnd)
	origins := []string{schemas.OriginDirect, schemas.OriginInherited}
	from := []string{"CUSTOMER", "PRODUCT"}
	for _, topic := range []string{"handler.huawei-pcrf", "portabilling.account", "transatel.subscriber"} {
		schema := mustSchema(t, topic)
		ab := NewAvroBody(schema)
		if ab == nil {
			t.Fatalf("%s: no AvroBody for the event schema", topic)
		}
		for i := range 3000 {
			ev := gen.event(i)
			ev.Origin = origins[rnd.IntN(2)]
			if ev.InheritedFrom != nil {
				ev.InheritedFrom = &from[rnd.IntN(2)]
			}
			v, err := avro.Marshal(schema, ev)
			if err != nil {
				t.Fatal(err)
			}
			key, attempt := gen.str(), rnd.IntN(200)-1
			want, dec, err := viaDecode(schema, v, key, attempt)
			if err != nil {
				t.Fatal(err)
			}
			prefix := []byte(gen.str()) // a reused buffer's old contents
			got, sum, err := ab.Append(prefix[:0], "Huawei::PCRF", key, v, attempt, testState)
			if len(dec.Attributes) > maxAttributes {
				if err == nil {
					t.Fatalf("%s event %d: %d attributes, past the bound, accepted", topic, i, len(dec.Attributes))
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s event %d: %v", topic, i, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s event %d:\n got %s\nwant %s", topic, i, got, want)
			}
			if string(sum.EventID) != dec.EventID || string(sum.EventType) != dec.EventType || sum.HasAccount != (dec.IAccount != nil) ||
				(dec.IAccount != nil && sum.IAccount != *dec.IAccount) {
				t.Fatalf("%s event %d: summary %+v", topic, i, sum)
			}
		}
	}
}

// TestNewAvroBodyRefusesUnknownLayouts: a field it does not know, or a
// known one of another type, leaves the record to the decoder.
func TestNewAvroBodyRefusesUnknownLayouts(t *testing.T) {
	for name, schema := range map[string]string{
		"a new field": `{"type":"record","name":"E","fields":[{"name":"event_id","type":"string"},{"name":"source","type":"string"},
			{"name":"event_type","type":"string"},{"name":"origin","type":{"type":"enum","name":"O","symbols":["DIRECT"]}},
			{"name":"occurred_at","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"received_at","type":{"type":"long","logicalType":"timestamp-millis"}},
			{"name":"payload","type":"string"},{"name":"priority","type":"int"}]}`,
		"an id of another type": `{"type":"record","name":"E","fields":[{"name":"event_id","type":"string"},{"name":"source","type":"string"},
			{"name":"event_type","type":"string"},{"name":"origin","type":{"type":"enum","name":"O","symbols":["DIRECT"]}},
			{"name":"occurred_at","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"received_at","type":{"type":"long","logicalType":"timestamp-millis"}},
			{"name":"payload","type":"string"},{"name":"i_account","type":["null","string"]}]}`,
		"micros, not millis": `{"type":"record","name":"E","fields":[{"name":"event_id","type":"string"},{"name":"source","type":"string"},
			{"name":"event_type","type":"string"},{"name":"origin","type":{"type":"enum","name":"O","symbols":["DIRECT"]}},
			{"name":"occurred_at","type":{"type":"long","logicalType":"timestamp-micros"}},{"name":"received_at","type":{"type":"long","logicalType":"timestamp-millis"}},
			{"name":"payload","type":"string"}]}`,
		"no payload": `{"type":"record","name":"E","fields":[{"name":"event_id","type":"string"},{"name":"source","type":"string"},
			{"name":"event_type","type":"string"},{"name":"origin","type":{"type":"enum","name":"O","symbols":["DIRECT"]}},
			{"name":"occurred_at","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"received_at","type":{"type":"long","logicalType":"timestamp-millis"}}]}`,
		"a delivery": mustText(t, schemas.DeliverySchema),
	} {
		s, err := schemas.Parse(schema)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if NewAvroBody(s) != nil {
			t.Errorf("%s: got an AvroBody", name)
		}
	}
}

func mustText(t *testing.T, f func() (string, error)) string {
	s, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzAvroBody: whatever bytes AvroBody writes a body for, the decoder
// decodes, to the same body; what AvroBody refuses is the decoder's to
// judge (it may still decode it: more attributes than the bound).
func FuzzAvroBody(f *testing.F) {
	schema := mustSchema(f, "handler.huawei-pcrf")
	ab := NewAvroBody(schema)
	rnd := rand.New(rand.NewPCG(1, 1))
	gen := newEventGen(rnd)
	for i := range 20 {
		ev := gen.event(i)
		ev.Origin = schemas.OriginDirect
		ev.InheritedFrom = nil
		v, err := avro.Marshal(schema, ev)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		got, _, err := ab.Append(nil, "Huawei::PCRF", "k", v, 1, testState)
		if err != nil {
			return
		}
		want, _, err := viaDecode(schema, v, "k", 1)
		if err != nil {
			t.Fatalf("AvroBody wrote a body for a value the decoder refuses (%v):\n%s", err, got)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}
