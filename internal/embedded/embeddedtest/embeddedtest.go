// Package embeddedtest gives a test its own embedded cluster, built by the
// constructor production uses: broker and registry in memory on free
// ports, a client, an admin, a registry client and a codec, all closed when
// the test ends. One cluster per test keeps tests independent.
package embeddedtest

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/provbus/provbus/internal/embedded"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
)

// Cluster is a test's embedded cluster and its clients.
type Cluster struct {
	*embedded.Cluster
	Client   *kgo.Client
	Admin    *kadm.Client
	Registry *sr.Client
	Codec    *schemas.Codec
}

// Start starts the cluster; partitions is the broker default for topics
// created without a count (0: embedded's default).
func Start(t testing.TB, partitions int) *Cluster {
	t.Helper()
	ec, err := embedded.Start(context.Background(), embedded.Config{
		KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Partitions: partitions, Broker: true, Registry: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ec.Close() })
	cl, err := kgo.NewClient(kgo.SeedBrokers(ec.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	reg, err := sr.NewClient(sr.URLs(ec.RegistryURL()))
	if err != nil {
		t.Fatal(err)
	}
	return &Cluster{Cluster: ec, Client: cl, Admin: kadm.NewClient(cl), Registry: reg, Codec: schemas.NewCodec(reg)}
}

// Create creates topics with the given partition count.
func (c *Cluster) Create(t testing.TB, partitions int32, topics ...string) {
	t.Helper()
	resp, err := c.Admin.CreateTopics(context.Background(), partitions, 1, nil, topics...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// Use prepares the codec to encode for the (Avro) topics.
func (c *Cluster) Use(t testing.TB, topics ...string) {
	t.Helper()
	if err := records.Use(context.Background(), c.Codec, topics...); err != nil {
		t.Fatal(err)
	}
}
