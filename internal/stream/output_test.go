package stream

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
)

// captured is a producer that keeps what it is given.
type captured struct{ recs []*kgo.Record }

func (c *captured) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	c.recs = append(c.recs, r)
	promise(r, nil)
}

// EventTo encodes once per schema layout: two handler topics (same layout,
// different record names and ids) share the body behind their own ids, and
// a domain topic (fewer id fields) gets its own encoding. Every value
// decodes, with the reader's schema of its id, to the event written.
func TestEventToSharesOneEncodingPerLayout(t *testing.T) {
	reg := srfake.New()
	t.Cleanup(reg.Close)
	client, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	codec := schemas.NewCodec(client)
	topics := []string{"handler.iptv", "portabilling.account", "handler.huawei-hss"}
	if err := records.Use(context.Background(), codec, topics...); err != nil {
		t.Fatal(err)
	}
	prod := &captured{}
	out := &Output{prod: prod, codec: codec, parts: map[string]int32{}}
	for _, tp := range topics {
		out.parts[tp] = 3
	}
	out.reset(context.Background(), time.Now())
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	acc := int64(7)
	ev := schemas.Event{EventID: "pb-1", Source: "portabilling", EventType: "Account/Blocked", Origin: schemas.OriginDirect,
		OccurredAt: at, ReceivedAt: at, IAccount: &acc, Attributes: map[string]string{"a": "1", "b": "2", "c": "3"}, Payload: "{}"}
	if err := out.EventTo(topics, "7", &ev); err != nil {
		t.Fatal(err)
	}
	if len(prod.recs) != 3 {
		t.Fatalf("%d records, want 3", len(prod.recs))
	}
	values := map[string][]byte{}
	for _, r := range prod.recs {
		values[r.Topic] = r.Value
		id, _ := codec.SchemaID(r.Topic)
		if got := int(binary.BigEndian.Uint32(r.Value[1:5])); r.Value[0] != 0 || got != id {
			t.Errorf("%s: header id %d, want %d", r.Topic, got, id)
		}
		var back schemas.Event
		if _, err := codec.Decode(context.Background(), r.Value, &back); err != nil {
			t.Fatalf("%s: %v", r.Topic, err)
		}
		if back.EventID != ev.EventID || back.Attributes["c"] != "3" || back.IAccount == nil || *back.IAccount != 7 {
			t.Errorf("%s: decoded %+v", r.Topic, back)
		}
	}
	hss, iptv, domain := values["handler.huawei-hss"], values["handler.iptv"], values["portabilling.account"]
	if !bytes.Equal(hss[5:], iptv[5:]) {
		t.Error("two handler topics (one layout) got different bodies")
	}
	if &hss[5] == &iptv[5] {
		t.Error("the shared body is not copied behind each header")
	}
	if bytes.Equal(domain[5:], iptv[5:]) {
		t.Error("the domain topic (another layout) shares the handler topics' body: its decode would misread it")
	}
}
