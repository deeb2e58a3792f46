package ingest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/internal/embedded"
	"github.com/provbus/provbus/internal/embedded/embeddedtest"
	"github.com/provbus/provbus/producers/transatel"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// Credentials every harness configures, so every test runs with auth on.
var testAuth = config.Auth{
	PortaBilling: config.BasicAuth{Username: "espf", Password: "espf-password"},
	Transatel:    config.HMACAuth{Secrets: []string{"transatel-secret-0123456789"}},
	JeraSoft:     config.TokenAuth{Token: "jerasoft-token", Header: "X-Auth-Token", QueryParam: "token"},
}

// harness is one embedded cluster (broker + registry) with every topic the
// ingest path writes, and a Server behind an httptest server. One per test,
// so tests run in parallel without sharing topics.
type harness struct {
	t       *testing.T
	cluster *embedded.Cluster
	srv     *Server
	http    *httptest.Server
	adm     *kadm.Client
	reg     *sr.Client
	cat     *topology.Catalog
	topics  []string
}

func newHarness(t *testing.T, opts ...Option) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ec := embeddedtest.Start(t, 3)
	c, adm, reg := ec.Cluster, ec.Admin, ec.Registry
	cat, err := topology.Default()
	if err != nil {
		t.Fatal(err)
	}
	topics := []string{schemas.QuarantineTopic, DirectoryTopic}
	for _, d := range cat.Domains() {
		topics = append(topics, d.Topic)
	}
	ec.Create(t, 3, topics...)
	all := append([]Option{
		WithKafka(kgo.SeedBrokers(c.Brokers()...)),
		WithRegistry(reg),
		WithCatalog(cat),
		WithAuth(testAuth),
		WithProduceTimeout(2 * time.Second),
	}, opts...)
	srv, err := New(ctx, all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &harness{t: t, cluster: c, srv: srv, http: hs, adm: adm, reg: reg, cat: cat, topics: topics}
}

// post sends body as source would, with valid credentials unless noAuth.
func (h *harness) post(source, body string, noAuth bool, hdr ...string) (*http.Response, []byte) {
	h.t.Helper()
	req, err := http.NewRequest("POST", h.http.URL+"/v1/sources/"+source+"/events", strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if !noAuth {
		switch source {
		case "portabilling":
			req.SetBasicAuth("espf", "espf-password")
		case "transatel":
			req.Header.Set(transatel.SignatureHeader, transatel.Sign([]byte(testAuth.Transatel.Secrets[0]), []byte(body)))
		case "jerasoft":
			req.Header.Set("X-Auth-Token", "jerasoft-token")
		}
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := h.http.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp, b
}

// total is the number of records in every topic the ingest path writes.
func (h *harness) total() int64 {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := h.adm.ListEndOffsets(ctx, h.topics...)
	if err != nil {
		h.t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// records reads every record of topics from the start to the current end.
func (h *harness) records(topics ...string) []*kgo.Record {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ends, err := h.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		h.t.Fatal(err)
	}
	var want int64
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	if want == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.cluster.Brokers()...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		h.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for int64(len(out)) < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			h.t.Fatalf("read %d of %d records: %v", len(out), want, err)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// decode decodes an event with a codec that knows nothing but the
// registry, as any Confluent client would.
func (h *harness) decode(r *kgo.Record, v any) {
	h.t.Helper()
	if _, err := schemas.NewCodec(h.reg).Decode(context.Background(), r.Value, v); err != nil {
		h.t.Fatalf("decode %s@%d: %v", r.Topic, r.Offset, err)
	}
}
