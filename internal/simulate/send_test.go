package simulate

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/internal/embedded/embeddedtest"
	"github.com/provbus/provbus/producers/ingest"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// TestRunAgainstIngest sends a small signed, authenticated run to an
// in-process ingest on the embedded cluster: every event must be accepted,
// and a wrong Transatel secret must be refused.
func TestRunAgainstIngest(t *testing.T) {
	ctx := context.Background()
	emb := embeddedtest.Start(t, 3)
	cat, err := topology.Default()
	if err != nil {
		t.Fatal(err)
	}
	topics := []string{schemas.QuarantineTopic}
	for _, d := range cat.Domains() {
		topics = append(topics, d.Topic)
	}
	emb.Create(t, 3, topics...)
	reg := emb.Registry
	auth := config.Auth{
		PortaBilling: config.BasicAuth{Username: "espf", Password: "pw"},
		Transatel:    config.HMACAuth{Secrets: []string{"s3cret"}},
		JeraSoft:     config.TokenAuth{Token: "tok", Header: "X-Auth-Token"},
	}
	srv, err := ingest.New(ctx, ingest.WithKafka(kgo.SeedBrokers(emb.Brokers()...)), ingest.WithRegistry(reg),
		ingest.WithCatalog(cat), ingest.WithAuth(auth))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	cred := Credentials{ESPFUser: "espf", ESPFPassword: "pw", TransatelSecret: "s3cret", JeraSoftToken: "tok"}
	rep, err := Run(ctx, New(Config{Seed: 1, Customers: 50}), Options{URL: hs.URL, Credentials: cred, Events: 300, Batch: 5, Connections: 4, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted != 300 || rep.Rejected+rep.Failed != 0 {
		t.Fatalf("want 300 accepted: %s", rep)
	}
	if rep.P99 <= 0 {
		t.Fatalf("no latency measured: %s", rep)
	}

	cred.TransatelSecret = "wrong"
	rep, err = Run(ctx, New(Config{Seed: 2, Customers: 50, Mix: Mix{Transatel: 1}}), Options{URL: hs.URL, Credentials: cred, Events: 20, Connections: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rejected != 20 || rep.Statuses[401] != 20 {
		t.Fatalf("want 20 refused with 401: %s", rep)
	}
}
