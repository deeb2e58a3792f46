// Package ingest is provbus's edge server: the one HTTP and produce path
// behind the three source edges (producers/portabilling, transatel,
// jerasoft) and `provbus import`.
//
// A request is read whole (bounded), authenticated, parsed by its source
// and validated whole — every element's event type looked up in the
// catalog, every record key present — before anything is produced. Known
// events go to their domain topic keyed by the domain's id; well-formed
// events of unknown types go to provbus.quarantine with their raw body and
// the reason. The answer is 2xx only once every record of the request is
// acknowledged by all in-sync replicas through an idempotent producer; a
// produce that fails or outlasts the produce timeout answers 503 with
// Retry-After, so the sender retries and the stable event ids let
// downstream de-duplication absorb any partial write.
package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/provbus/provbus/internal/metrics"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/producers/edge"
	"github.com/provbus/provbus/producers/jerasoft"
	"github.com/provbus/provbus/producers/portabilling"
	"github.com/provbus/provbus/producers/transatel"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// Server turns source requests and import files into Kafka records. Build
// it with New; it is safe for concurrent use. Handler serves it on any
// mux; Run serves it on its own hardened http.Server.
type Server struct {
	s       settings
	client  *kgo.Client
	codec   *schemas.Codec
	sources map[string]edge.Source
	// gates are the served sources' policies; a source without one
	// answers 404.
	gates map[string]*gate
	// instances are each source's named instances: an id of the default
	// one may not take their prefix (reservedID).
	instances map[string][]string
	proxies   proxies
	// certs is the HTTPS certificate (nil: plain HTTP).
	certs *certReloader
	// latency is each source's ingest latency histogram, resolved once:
	// WithLabelValues hashes its labels on every call.
	latency map[string]prometheus.Observer
	handler http.Handler
}

// ErrConfig is returned by New when a required option is missing.
var ErrConfig = errors.New("ingest: bad configuration")

// New builds a Server: it opens the producer (idempotent, acks=all, every
// record bounded by the produce timeout) and registers the value schema of
// every domain topic and of provbus.quarantine, so a registry problem
// shows at start instead of on the first request. WithKafka and
// WithRegistry are required.
func New(ctx context.Context, opts ...Option) (*Server, error) {
	s := defaults()
	for _, o := range opts {
		o(&s)
	}
	if s.kafka == nil {
		return nil, fmt.Errorf("%w: WithKafka is required", ErrConfig)
	}
	if s.registry == nil {
		return nil, fmt.Errorf("%w: WithRegistry is required", ErrConfig)
	}
	if s.metrics == nil {
		s.metrics = metrics.New(nil)
	}
	if s.catalog == nil {
		c, err := topology.Default()
		if err != nil {
			return nil, fmt.Errorf("ingest: catalog: %w", err)
		}
		s.catalog = c
	}
	srv := &Server{s: s, codec: schemas.NewCodec(s.registry, schemas.WithTopicPrefix(string(s.namespace)))}
	srv.sources = map[string]edge.Source{}
	for _, src := range []edge.Source{
		portabilling.New(s.auth.PortaBilling),
		transatel.New(s.auth.Transatel),
		jerasoft.New(s.auth.JeraSoft),
	} {
		srv.sources[src.Name()] = src
	}
	srv.gates, srv.instances = map[string]*gate{}, map[string][]string{}
	for name := range srv.sources {
		srv.instances[name] = instanceNames(s.auth, name)
		g, err := newGate(s.sources.Policy(name), s.auth.Has(name), instanceNames(s.auth, name))
		if err != nil {
			return nil, fmt.Errorf("%w: ingest.sources.%s: %v", ErrConfig, name, err)
		}
		if g != nil {
			srv.gates[name] = g
		}
	}
	var err error
	if srv.proxies, err = parseProxies(s.trustedProxies); err != nil {
		return nil, err
	}
	if (s.certFile == "") != (s.keyFile == "") {
		return nil, fmt.Errorf("%w: TLS needs both a certificate and a key file", ErrConfig)
	}
	if s.certFile != "" {
		if srv.certs, err = newCertReloader(s.certFile, s.keyFile, s.log); err != nil {
			return nil, err
		}
	}
	for name, g := range srv.gates {
		if g.clientCA != nil && srv.certs == nil {
			return nil, fmt.Errorf("%w: ingest.sources.%s.client_ca_file needs TLS (ingest.tls)", ErrConfig, name)
		}
	}
	srv.latency = map[string]prometheus.Observer{}
	for name := range srv.sources {
		srv.latency[name] = s.metrics.IngestLatency(name)
	}

	topics := []string{schemas.QuarantineTopic}
	for _, d := range s.catalog.Domains() {
		topics = append(topics, d.Topic)
	}
	if err := records.Use(ctx, srv.codec, topics...); err != nil {
		return nil, fmt.Errorf("ingest: register schemas: %w", err)
	}

	kopts := append([]kgo.Opt{}, s.kafka...)
	// Appended last so they win over anything in WithKafka: these are
	// what makes a 2xx mean "durably in Kafka".
	kopts = append(kopts,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(s.produceTimeout),
		// Every request waits for its acks, so kgo's default 10 ms
		// linger was added to every answer (p50 14 ms at one event per
		// request); without it batches still form from the requests
		// in flight while a produce is outstanding.
		kgo.ProducerLinger(0),
		s.metrics.Kafka("ingest"),
	)
	client, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("ingest: kafka client: %w", err)
	}
	srv.client = client
	srv.handler = srv.routes()
	return srv, nil
}

// Handler returns the HTTP API: POST /v1/sources/{source}/events, GET
// /healthz and GET /readyz (the broker answers). /metrics is not on it:
// it belongs on a listener of its own (MetricsHandler). It does not need
// Run: `provbus dev` mounts it on its own server.
func (s *Server) Handler() http.Handler { return s.handler }

// Served maps each source the server answers to whether it is open
// (served without credentials).
func (s *Server) Served() map[string]bool {
	out := map[string]bool{}
	for name, g := range s.gates {
		out[name] = g.open
	}
	return out
}

// CheckListen refuses a listen address that is not loopback while a
// source is open without its insecure_public: an open source is for a
// developer's machine, not for whoever can reach the port.
func (s *Server) CheckListen(addr string) error {
	if isLoopback(addr) {
		return nil
	}
	var exposed []string
	for name, g := range s.gates {
		if g.open && !g.public {
			exposed = append(exposed, name)
		}
	}
	if len(exposed) == 0 {
		return nil
	}
	sort.Strings(exposed)
	return fmt.Errorf("%w: %s is not a loopback address and source(s) %s have no credentials; configure ingest.auth, or set ingest.sources.<name>.insecure_public to serve them open on purpose",
		ErrConfig, addr, strings.Join(exposed, ", "))
}

// Source returns the edge of a source by name.
func (s *Server) Source(name string) (edge.Source, bool) {
	src, ok := s.sources[name]
	return src, ok
}

// Close flushes nothing (every produce is synchronous) and closes the
// producer.
func (s *Server) Close() { s.client.Close() }

// Run listens on addr and serves Handler until ctx is done, then shuts
// down gracefully: it stops accepting, lets in-flight requests finish
// their produce and answer (bounded by the shutdown timeout), and returns.
func (s *Server) Run(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("ingest: listen %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on an existing listener, which it closes. With WithTLS it
// serves HTTPS.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.certs != nil {
		ln = tls.NewListener(ln, s.tlsConfig())
	}
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		// A request may wait for the whole produce timeout before it can
		// answer 503, so writes get that much more time.
		WriteTimeout:   s.s.produceTimeout + 15*time.Second,
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       zap.NewStdLog(s.s.log.Named("http")),
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.s.log.Info("ingest listening", zap.String("addr", ln.Addr().String()))
	select {
	case err := <-errc:
		return fmt.Errorf("ingest: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.s.shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("ingest: shutdown: %w", err)
	}
	<-errc
	return nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/sources/{source}/events", s.handleEvents)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.handleReady)
	return mux
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.client.Ping(ctx); err != nil {
		s.unavailable(w, "readyz: kafka unreachable", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
