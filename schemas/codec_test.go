package schemas_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/provbus/provbus/schemas"
)

func newCodec(t *testing.T) (*schemas.Codec, *srfake.Registry) {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	client, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	return schemas.NewCodec(client), reg
}

func ptr[T any](v T) *T { return &v }

func sampleEvent() schemas.Event {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	return schemas.Event{
		EventID: "pb-123", Source: "portabilling", EventType: "Account/Blocked",
		OccurredAt: at, ReceivedAt: at.Add(time.Second), Origin: schemas.OriginDirect,
		IAccount: ptr(int64(7)), ICustomer: ptr(int64(42)), IEnv: ptr(int64(3)),
		Attributes: map[string]string{"i_account": "7", "i_customer": "42"},
		Payload:    `{"event_type":"Account/Blocked"}`,
	}
}

func TestCodecRoundTrip(t *testing.T) {
	ctx := context.Background()
	codec, _ := newCodec(t)
	text, err := schemas.EventSchema("portabilling.account", "", "portabilling")
	if err != nil {
		t.Fatal(err)
	}
	id, err := codec.Use(ctx, "portabilling.account", text)
	if err != nil {
		t.Fatal(err)
	}
	ev := sampleEvent()
	b, err := codec.Encode(nil, "portabilling.account", &ev)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0 || int(b[4]) != id {
		t.Fatalf("wire header = % x, want magic 0 and id %d", b[:5], id)
	}
	var got schemas.Event
	gotID, err := codec.Decode(ctx, b, &got)
	if err != nil || gotID != id {
		t.Fatalf("Decode: id %d err %v", gotID, err)
	}
	if got.EventID != ev.EventID || *got.IAccount != 7 || *got.ICustomer != 42 || got.Attributes["i_customer"] != "42" ||
		!got.OccurredAt.Equal(ev.OccurredAt) || got.Payload != ev.Payload || got.MSISDN != nil {
		t.Fatalf("round trip mismatch: %+v", got)
	}
	// The same schema again keeps its id.
	if again, err := codec.Use(ctx, "portabilling.account", text); err != nil || again != id {
		t.Fatalf("Use again: id %d err %v, want %d", again, err, id)
	}
}

func TestCodecDecodeOlderWriter(t *testing.T) {
	ctx := context.Background()
	writer, reg := newCodec(t)
	// An older writer whose schema knew only the Transatel ids.
	old, _ := schemas.EventSchema("transatel.subscriber", "", "transatel")
	if _, err := writer.Use(ctx, "transatel.subscriber", old); err != nil {
		t.Fatal(err)
	}
	ev := sampleEvent()
	ev.MSISDN = ptr("33612345678")
	b, err := writer.Encode(nil, "transatel.subscriber", &ev)
	if err != nil {
		t.Fatal(err)
	}
	// A fresh reader learns the writer schema from the registry by id.
	client, _ := sr.NewClient(sr.URLs(reg.URL()))
	reader := schemas.NewCodec(client)
	got := schemas.Event{IAccount: ptr(int64(99))} // stale value must be reset
	if _, err := reader.Decode(ctx, b, &got); err != nil {
		t.Fatal(err)
	}
	if got.MSISDN == nil || *got.MSISDN != "33612345678" || got.IAccount != nil {
		t.Fatalf("got %+v", got)
	}
}

// TestCodecWriterSchema: a fresh reader learns a value's writer schema
// by its id, and fails on poison as Decode does.
func TestCodecWriterSchema(t *testing.T) {
	ctx := context.Background()
	writer, reg := newCodec(t)
	text, _ := schemas.EventSchema("transatel.subscriber", "", "transatel")
	id, err := writer.Use(ctx, "transatel.subscriber", text)
	if err != nil {
		t.Fatal(err)
	}
	ev := sampleEvent()
	b, err := writer.Encode(nil, "transatel.subscriber", &ev)
	if err != nil {
		t.Fatal(err)
	}
	client, _ := sr.NewClient(sr.URLs(reg.URL()))
	reader := schemas.NewCodec(client)
	for range 2 { // learned, then cached
		gotID, s, body, err := reader.WriterSchema(ctx, b)
		if err != nil || gotID != id {
			t.Fatalf("WriterSchema: id %d err %v, want %d", gotID, err, id)
		}
		want, _ := schemas.Parse(text)
		if s.Fingerprint() != want.Fingerprint() || !bytes.Equal(body, b[5:]) {
			t.Fatalf("schema %s, body % x", s, body)
		}
	}
	if _, _, _, err := reader.WriterSchema(ctx, []byte{1, 0}); !errors.Is(err, schemas.ErrNotWireFormat) {
		t.Fatalf("not wire format: %v", err)
	}
	if _, _, _, err := reader.WriterSchema(ctx, []byte{0, 0, 0, 0x7f, 0x7f, 2}); !errors.Is(err, schemas.ErrUnknownSchema) {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestCodecPoison(t *testing.T) {
	ctx := context.Background()
	codec, _ := newCodec(t)
	text, _ := schemas.EventSchema("portabilling.account", "", "portabilling")
	if _, err := codec.Use(ctx, "portabilling.account", text); err != nil {
		t.Fatal(err)
	}
	ev := sampleEvent()
	good, err := codec.Encode(nil, "portabilling.account", &ev)
	if err != nil {
		t.Fatal(err)
	}

	var out schemas.Event
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"bad magic", append([]byte{1}, good[1:]...), schemas.ErrNotWireFormat},
		{"too short", []byte{0, 0}, schemas.ErrNotWireFormat},
		{"unknown schema id", append([]byte{0, 0, 0, 0x7f, 0x7f}, good[5:]...), schemas.ErrUnknownSchema},
		{"truncated avro", good[:len(good)-10], schemas.ErrUndecodable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := codec.Decode(ctx, tc.in, &out)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// Every cut of a value is undecodable, wherever it falls: hamba's own
	// Unmarshal accepted 27 of these 129, their missing fields left zero.
	// And a failed decode leaves nothing behind for the next one.
	for n := 5; n < len(good); n++ {
		if _, err := codec.Decode(ctx, good[:n], &out); !errors.Is(err, schemas.ErrUndecodable) {
			t.Fatalf("cut to %d of %d bytes: err = %v, want undecodable", n, len(good), err)
		}
		if _, err := codec.Decode(ctx, good, &out); err != nil || out.Payload != ev.Payload {
			t.Fatalf("a whole value after a cut one: err = %v, payload %q", err, out.Payload)
		}
	}
}

func TestEncodeUnusedTopic(t *testing.T) {
	codec, _ := newCodec(t)
	ev := sampleEvent()
	if _, err := codec.Encode(nil, "nope", &ev); err == nil {
		t.Fatal("Encode on a topic never Used succeeded")
	}
}

func TestEventKeyCoversEveryID(t *testing.T) {
	ev := sampleEvent()
	if k, ok := ev.Key("i_account"); !ok || k != "7" {
		t.Fatalf("i_account key = %q %v", k, ok)
	}
	if _, ok := ev.Key("msisdn"); ok {
		t.Fatal("msisdn key present on a PortaBilling event")
	}
	// Every declared id must be settable through its avro tag and readable
	// through Key, so a new id cannot be added to one place only.
	for _, src := range schemas.Sources {
		for _, f := range schemas.IDFields(src) {
			var e schemas.Event
			v := reflect.ValueOf(&e).Elem()
			found := false
			for i := 0; i < v.NumField(); i++ {
				if v.Type().Field(i).Tag.Get("avro") != f.Name {
					continue
				}
				found = true
				fv := v.Field(i)
				fv.Set(reflect.New(fv.Type().Elem()))
			}
			if !found {
				t.Fatalf("id %s has no Event field", f.Name)
			}
			if _, ok := e.Key(f.Name); !ok {
				t.Fatalf("Key(%q) not handled", f.Name)
			}
		}
	}
}

func TestValueSchemaByTopic(t *testing.T) {
	for topic, wantField := range map[string]string{
		"portabilling.customer":          `"i_customer"`,
		"portabilling.account.inherited": `"fan_out_count"`,
		"transatel.portability":          `"msisdn"`,
		"jerasoft.did":                   `"object_id"`,
		"handler.huawei-pcrf":            `"object_id"`,
		"provbus.quarantine":             `"body"`,
	} {
		text, err := schemas.ValueSchema(topic)
		if err != nil {
			t.Fatalf("%s: %v", topic, err)
		}
		if _, err := schemas.Parse(text); err != nil {
			t.Fatalf("%s: %v", topic, err)
		}
		if !strings.Contains(text, wantField) {
			t.Fatalf("%s schema lacks %s", topic, wantField)
		}
	}
	if _, err := schemas.ValueSchema("provbus.dlq"); err == nil {
		t.Fatal("the DLQ has no Avro schema, but ValueSchema gave one")
	}
}

func TestQuarantineRoundTrip(t *testing.T) {
	ctx := context.Background()
	codec, _ := newCodec(t)
	text, _ := schemas.ValueSchema(schemas.QuarantineTopic)
	if _, err := codec.Use(ctx, schemas.QuarantineTopic, text); err != nil {
		t.Fatal(err)
	}
	q := schemas.Quarantined{Source: "jerasoft", ReceivedAt: time.Now().UTC().Truncate(time.Millisecond), Reason: "unknown event type", EventType: ptr("x.y"), Body: []byte("{\xff}")}
	b, err := codec.Encode(nil, schemas.QuarantineTopic, &q)
	if err != nil {
		t.Fatal(err)
	}
	var got schemas.Quarantined
	if _, err := codec.Decode(ctx, b, &got); err != nil {
		t.Fatal(err)
	}
	if string(got.Body) != string(q.Body) || got.Reason != q.Reason || *got.EventType != "x.y" {
		t.Fatalf("got %+v", got)
	}
}

func TestCodecTopicPrefixNamesSubjects(t *testing.T) {
	ctx := context.Background()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	client, _ := sr.NewClient(sr.URLs(reg.URL()))
	codec := schemas.NewCodec(client, schemas.WithTopicPrefix("staging."))
	text, _ := schemas.ValueSchema("portabilling.account")
	if _, err := codec.Use(ctx, "portabilling.account", text); err != nil {
		t.Fatal(err)
	}
	if !reg.SubjectExists("staging.portabilling.account-value") || reg.SubjectExists("portabilling.account-value") {
		t.Fatal("the schema was not registered under the prefixed subject only")
	}
	ev := sampleEvent()
	if _, err := codec.Encode(nil, "portabilling.account", &ev); err != nil {
		t.Fatalf("Encode by logical name: %v", err)
	}
}

func TestPoisonReason(t *testing.T) {
	for err, want := range map[error]string{
		fmt.Errorf("x: %w", schemas.ErrNotWireFormat): "not_wire_format",
		fmt.Errorf("x: %w", schemas.ErrUnknownSchema): "unknown_schema",
		fmt.Errorf("x: %w", schemas.ErrUndecodable):   "undecodable",
		errors.New("registry unreachable"):            "",
	} {
		if got := schemas.PoisonReason(err); got != want {
			t.Errorf("PoisonReason(%v) = %q, want %q", err, got, want)
		}
	}
}

// Issue 18 #8: a registry 404 for a schema id is remembered for the
// negative TTL only; a schema registered meanwhile is found after it.
func TestCodecForgetsNotFoundAfterTTL(t *testing.T) {
	ctx := context.Background()
	codec, reg := newCodec(t)
	clock := time.Unix(1_700_000_000, 0)
	schemas.SetClock(codec, func() time.Time { return clock })
	account, _ := schemas.EventSchema("portabilling.account", "", "portabilling")
	if id, err := codec.Use(ctx, "portabilling.account", account); err != nil || id != 1 {
		t.Fatalf("Use = %d, %v; want id 1", id, err)
	}
	ev := sampleEvent()
	good, err := codec.Encode(nil, "portabilling.account", &ev)
	if err != nil {
		t.Fatal(err)
	}
	var out schemas.Event
	probe := append([]byte{0, 0, 0, 0, 2}, good[5:]...) // id 2: not registered yet
	if _, err := codec.Decode(ctx, probe, &out); !errors.Is(err, schemas.ErrUnknownSchema) {
		t.Fatalf("decode of an unregistered id: %v, want ErrUnknownSchema", err)
	}
	// Another producer registers id 2.
	other, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	customer, _ := schemas.EventSchema("portabilling.customer", "", "portabilling")
	if id, err := schemas.NewCodec(other).Use(ctx, "portabilling.customer", customer); err != nil || id != 2 {
		t.Fatalf("second Use = %d, %v; want id 2", id, err)
	}
	// Within the TTL the codec does not ask again: the registry is not
	// hammered by a stream of records with a missing id.
	clock = clock.Add(schemas.DefaultNegativeTTL - time.Second)
	if _, err := codec.Decode(ctx, probe, &out); !errors.Is(err, schemas.ErrUnknownSchema) {
		t.Fatalf("within the negative TTL: %v, want the remembered ErrUnknownSchema", err)
	}
	// Past it, the id is looked up again and found.
	clock = clock.Add(2 * time.Second)
	if _, err := codec.Decode(ctx, probe, &out); errors.Is(err, schemas.ErrUnknownSchema) {
		t.Fatalf("past the negative TTL the 404 is still remembered: %v", err)
	}
}
