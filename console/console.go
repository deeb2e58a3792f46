// Package console serves provbus's web console under /ui/: the flow from
// sources to connectors with rates and lag, every handler with its
// subscriptions and delivery state, an entity's timeline with lineage, one
// record decoded, the catalog, the DLQ and the quarantine.
//
// Pages are rendered on the server with html/template from embedded
// assets, so they read without JavaScript; a small script only refreshes
// the flow's numbers. Everything shown comes from Kafka itself (offsets,
// consumer group lag, records) through the same readers the CLIs use
// (internal/eventlog, internal/dlq), and every action goes through the
// code its CLI runs. Security is in auth.go: reading is open on loopback
// only, actions always need credentials and a CSRF token.
package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"

	"github.com/provbus/provbus/internal/eventlog"
	"github.com/provbus/provbus/internal/stream"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// Prefix is where the console is mounted; its paths are contracts (design
// §2): /ui/, /ui/handlers/{slug}, /ui/entities, /ui/events/{topic}/{p}/{o},
// /ui/catalog, /ui/dlq, /ui/quarantine.
const Prefix = "/ui/"

// defaultPageTimeout bounds the Kafka work behind one page, so a stalled
// broker gives an error page instead of a hung request.
const defaultPageTimeout = 10 * time.Second

// Server is the console's HTTP handler. Build it with New.
type Server struct {
	cat      *topology.Catalog
	dial     eventlog.Dial
	codec    *schemas.Codec
	ns       topology.Namespace
	registry *sr.Client
	procs    []stream.Spec
	delivery Delivery
	creds    Credentials
	// topics are provbus's own (the layout in the namespace): the only
	// ones the record page reads.
	topics  map[string]bool
	log     *zap.Logger
	timeout time.Duration
	stats   *sampler
	pages   *pages
	csrf    csrfKey
	mux     *http.ServeMux
}

// Option configures a Server.
type Option func(*Server)

// WithNamespace maps the catalog's logical topics to the cluster's
// (config topics.prefix; default none).
func WithNamespace(ns topology.Namespace) Option { return func(s *Server) { s.ns = ns } }

// WithRegistry lets the event page name the subject of a record's schema id
// (default: the id alone).
func WithRegistry(cl *sr.Client) Option { return func(s *Server) { s.registry = cl } }

// WithProcessors names the processors the flow draws between topics, from
// their specs (inputs, outputs, group) (default: none drawn).
func WithProcessors(specs ...stream.Spec) Option {
	return func(s *Server) { s.procs = append(s.procs, specs...) }
}

// WithDelivery shows delivery state and actions on the handler pages
// (default nil: "delivery not configured").
func WithDelivery(d Delivery) Option { return func(s *Server) { s.delivery = d } }

// WithCredentials sets who may read beyond loopback and act at all
// (default none: read-only, loopback only).
func WithCredentials(c Credentials) Option { return func(s *Server) { s.creds = c } }

// WithPageTimeout bounds the Kafka and registry work of one page or action
// (default 10 s); past it the reader gets an error page, never a hung one.
func WithPageTimeout(d time.Duration) Option { return func(s *Server) { s.timeout = d } }

// WithLogger logs failed pages and every action (default: nop).
func WithLogger(l *zap.Logger) Option { return func(s *Server) { s.log = l } }

// New returns a console reading the cluster through dial (the caller's
// connection settings) and decoding with codec.
func New(cat *topology.Catalog, dial eventlog.Dial, codec *schemas.Codec, opts ...Option) (*Server, error) {
	if cat == nil || dial == nil || codec == nil {
		return nil, errors.New("console: catalog, dial and codec are required")
	}
	s := &Server{cat: cat, dial: dial, codec: codec, log: zap.NewNop(), timeout: defaultPageTimeout}
	for _, o := range opts {
		o(s)
	}
	if err := s.creds.validate(); err != nil {
		return nil, err
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	s.pages = p
	if s.csrf, err = newCSRFKey(); err != nil {
		return nil, err
	}
	s.topics = map[string]bool{}
	for _, t := range cat.Layout(topology.LayoutOptions{Namespace: s.ns}) {
		s.topics[t.Name] = true
	}
	s.stats = newSampler(dial)
	s.routes()
	return s, nil
}

// Handler serves every /ui/ path; mount it at Prefix on a mux.
func (s *Server) Handler() http.Handler { return s.guard(s.mux) }

// Close releases the Kafka client the console keeps for offsets and lag.
func (s *Server) Close() { s.stats.close() }

func (s *Server) routes() {
	m := http.NewServeMux()
	m.Handle("GET /ui/static/", http.StripPrefix("/ui/", staticHandler()))
	m.HandleFunc("GET /ui/{$}", s.page(s.flowPage))
	m.HandleFunc("GET /ui/flow.json", s.flowJSON)
	m.HandleFunc("GET /ui/handlers", s.page(s.handlersPage))
	m.HandleFunc("GET /ui/handlers/{slug}", s.page(s.handlerPage))
	m.HandleFunc("POST /ui/handlers/{slug}/{action}", s.action(s.handlerAction))
	m.HandleFunc("GET /ui/entities", s.page(s.entitiesPage))
	m.HandleFunc("GET /ui/events/{topic}/{partition}/{offset}", s.page(s.eventPage))
	m.HandleFunc("GET /ui/catalog", s.page(s.catalogPage))
	m.HandleFunc("GET /ui/dlq", s.page(s.dlqPage))
	m.HandleFunc("POST /ui/dlq/redrive", s.action(s.dlqRedrive))
	m.HandleFunc("GET /ui/quarantine", s.page(s.quarantinePage))
	m.HandleFunc("GET /ui/login", s.login)
	s.mux = m
}

// view is what a page function returns: the template to render and its
// data, or an HTTP status with a message for the error page.
type view struct {
	tmpl   string
	title  string
	data   any
	status int
}

// httpError is a page failure the reader should see as is (400, 404).
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func notFound(format string, a ...any) error {
	return &httpError{http.StatusNotFound, fmt.Sprintf(format, a...)}
}

func badRequest(format string, a ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, a...)}
}

// page adapts a page function: it bounds its Kafka work, renders its view
// in the layout, and renders failures as an error page with a status.
func (s *Server) page(fn func(ctx context.Context, r *http.Request) (view, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
		defer cancel()
		v, err := fn(ctx, r)
		if err != nil {
			status := http.StatusBadGateway // Kafka or the registry failed
			var he *httpError
			if errors.As(err, &he) {
				status = he.status
			} else {
				s.log.Warn("console page failed", zap.String("path", r.URL.Path), zap.Error(err))
			}
			v = view{tmpl: "error", title: http.StatusText(status), data: err.Error(), status: status}
		}
		s.render(w, r, v)
	}
}
