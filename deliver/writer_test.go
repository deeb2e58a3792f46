package deliver

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// TestBodyOfAnotherWriterSchema: a record written with a newer schema (a
// field webhook.AvroBody does not know, so it is decoded instead) gets
// the same body as one of the schema it knows.
func TestBodyOfAnotherWriterSchema(t *testing.T) {
	c := cluster(t, 1)
	topic := topology.HandlerTopic(testHandler)
	text, err := schemas.ValueSchema(topic)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.Unmarshal([]byte(text), &doc)
	doc["fields"] = append(doc["fields"].([]any), map[string]any{"name": "priority", "type": "int", "default": 0})
	newer, _ := json.Marshal(doc)
	ss, err := c.Registry.CreateSchema(context.Background(), schemas.Subject(topic), sr.Schema{Schema: string(newer)})
	if err != nil {
		t.Fatal(err)
	}

	acc := int64(42)
	at := time.UnixMilli(1_700_000_000_123)
	event := func(id string) *schemas.Event {
		return &schemas.Event{EventID: id, Source: "portabilling", EventType: "Account/Blocked", Origin: schemas.OriginDirect,
			IAccount: &acc, OccurredAt: at, ReceivedAt: at, Attributes: map[string]string{"b": "2", "a": "<1>"}, Payload: `{"i_account": 42}`}
	}
	known, err := c.Codec.Encode(nil, topic, event("known"))
	if err != nil {
		t.Fatal(err)
	}
	// The newer layout is the older one with priority appended: 7.
	s, _ := schemas.Parse(text)
	body, err := avro.Marshal(s, event("newer"))
	if err != nil {
		t.Fatal(err)
	}
	wire := binary.BigEndian.AppendUint32([]byte{0}, uint32(ss.ID))
	newerValue := append(append(wire, body...), 14)
	if err := c.Client.ProduceSync(context.Background(),
		&kgo.Record{Topic: topic, Key: []byte("42"), Value: known},
		&kgo.Record{Topic: topic, Key: []byte("42"), Value: newerValue}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var got [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, b)
		mu.Unlock()
		w.WriteHeader(204)
	}))
	defer srv.Close()
	run(t, c, fastHandler(srv.URL))
	waitFor(t, "both events", 20*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
	mu.Lock()
	defer mu.Unlock()
	a, b := got[0], bytes.Replace(got[1], []byte(`"newer"`), []byte(`"known"`), 1)
	if !bytes.Equal(a, b) {
		t.Fatalf("bodies differ:\nknown schema %s\nnewer schema %s", got[0], got[1])
	}
	if !bytes.Contains(a, []byte(`"attributes":{"a":"\u003c1\u003e","b":"2"}`)) || !bytes.Contains(a, []byte(`"data":{"i_account":42}`)) {
		t.Fatalf("body %s", a)
	}
}
