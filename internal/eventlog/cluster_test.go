package eventlog

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/embedded"
	"github.com/provbus/provbus/internal/embedded/embeddedtest"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
)

// cluster is one embedded broker and registry for one test.
type cluster struct {
	t     testing.TB
	c     *embedded.Cluster
	codec *schemas.Codec
}

func startCluster(t testing.TB) *cluster {
	t.Helper()
	ec := embeddedtest.Start(t, 3)
	return &cluster{t: t, c: ec.Cluster, codec: ec.Codec}
}

func (c *cluster) dial(opts ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.c.Brokers()...)}, opts...)...)
}

// topic returns a fresh topic name of the given family ("portabilling.account")
// so tests never share one.
func topic(family string) string { return fmt.Sprintf("%s.t%d", family, rand.Uint32()) }

// create makes the topics with the given partition count and prepares the
// codec to encode for them.
func (c *cluster) create(partitions int32, topics ...string) {
	c.t.Helper()
	ctx := context.Background()
	cl, err := c.dial()
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, 1, nil, topics...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		c.t.Fatal(err)
	}
	if err := records.Use(ctx, c.codec, topics...); err != nil {
		c.t.Fatal(err)
	}
}

// rec encodes ev for topic, keyed by key, with an explicit timestamp so
// tests can put records exactly on the window's edges.
func (c *cluster) rec(topic, key string, ts time.Time, ev *schemas.Event) *kgo.Record {
	c.t.Helper()
	r, err := records.Event(c.codec, topic, key, ev)
	if err != nil {
		c.t.Fatal(err)
	}
	r.Timestamp = ts
	return r
}

func (c *cluster) produce(rs ...*kgo.Record) {
	c.t.Helper()
	cl, err := c.dial()
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		c.t.Fatal(err)
	}
}

func i64(v int64) *int64   { return &v }
func str(v string) *string { return &v }
func i32(v int32) *int32   { return &v }

// accountEvent is a direct PortaBilling account event.
func accountEvent(id, typ string, account, customer int64, at time.Time) *schemas.Event {
	return &schemas.Event{
		EventID: id, Source: "portabilling", EventType: typ, Origin: schemas.OriginDirect,
		OccurredAt: at, ReceivedAt: at, IAccount: i64(account), ICustomer: i64(customer),
		Attributes: map[string]string{"i_account": fmt.Sprint(account), "status": "active"},
		Payload:    fmt.Sprintf(`{"i_event":%q}`, id),
	}
}

func itoa(n int64) string { return fmt.Sprint(n) }

func mustAdmin(_ testing.TB, cl *kgo.Client) *kadm.Client { return kadm.NewClient(cl) }
