// Package registry is provbus's embedded Confluent-compatible Schema
// Registry: franz-go's srfake serves the REST API, and this package wraps it
// with the two things a registry that users rely on needs and srfake lacks.
//
//   - Persistence. Every accepted mutation is appended to
//     <dir>/registry.jsonl (fsynced before the client gets its answer).
//     On start the journal is replayed into srfake: registrations are
//     seeded with their exact subject, version and id, so the schema ids
//     already written into Kafka records keep resolving after a restart;
//     config, mode and deletions are replayed as the requests srfake
//     accepted.
//
//   - Compatibility. POST /subjects/{s}/versions checks the new schema
//     against the subject's live versions at the subject's level (default
//     BACKWARD_TRANSITIVE, as the provbus contract fixes) with hamba/avro,
//     and answers 409 like Confluent when it breaks;
//     POST /compatibility/subjects/{s}/versions[/{v}] answers from the same
//     check. CheckCompatibility exposes the check without a server.
//
//   - Conformance. Where srfake's answers differ from Confluent's (status,
//     error_code, body shape, the two-step soft/permanent deletes,
//     subject-level config and mode, GET /, /schemas/types), confluent*.go
//     answers as Confluent does, because third-party clients branch on
//     those codes.
//
// Only Avro schemas are accepted (GET /schemas/types says so). Schema
// contexts (/contexts/...) are readable but not writable, because srfake's
// context handling has no stable subject naming to persist. IMPORT mode is
// refused: the registry assigns every id itself.
package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
	"go.uber.org/zap"
)

// DefaultCompatibility is the global compatibility level of a registry
// that has never had PUT /config: provbus's contract is BACKWARD_TRANSITIVE.
const DefaultCompatibility = sr.CompatBackwardTransitive

// Opt configures a Registry.
type Opt func(*options)

type options struct {
	compat sr.CompatibilityLevel
	log    *zap.Logger
}

// WithCompatibility sets the global compatibility level used until someone
// sets one with PUT /config (a persisted PUT /config wins on restart),
// overriding DefaultCompatibility.
func WithCompatibility(level sr.CompatibilityLevel) Opt {
	return func(o *options) { o.compat = level }
}

// WithLogger sets the logger, overriding a no-op logger.
func WithLogger(l *zap.Logger) Opt {
	return func(o *options) { o.log = l }
}

// Registry is a persisted, compatibility-enforcing Schema Registry. Its
// methods are safe for concurrent use.
type Registry struct {
	log     *zap.Logger
	fake    *srfake.Registry
	handler http.Handler
	// defaultCompat is the global level DELETE /config goes back to.
	defaultCompat sr.CompatibilityLevel

	// mu serialises mutations so that check → register → journal is
	// atomic: two concurrent registrations must not both pass the check
	// against the same latest version.
	mu      sync.Mutex
	journal *journal // nil when in memory
	// failed is set when the journal could not be written. From then on
	// memory and disk may disagree, so every mutation is refused until a
	// restart replays the disk.
	failed error
	closed bool

	srvMu sync.Mutex
	srv   *http.Server
	addr  net.Addr
	done  chan struct{} // closed when the server goroutine exits
}

// New opens the registry persisted in dir (created when missing) and
// replays its journal. dir "" keeps everything in memory, for tests.
func New(dir string, opts ...Opt) (*Registry, error) {
	o := options{compat: DefaultCompatibility, log: zap.NewNop()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.compat.String() == "" {
		return nil, fmt.Errorf("registry: %w: unknown compatibility level %d", ErrInvalidSchema, o.compat)
	}
	r := &Registry{
		log:           o.log,
		fake:          srfake.NewRegistry(srfake.WithGlobalCompat(o.compat)),
		defaultCompat: o.compat,
	}
	r.handler = r.routes()
	if dir == "" {
		return r, nil
	}
	j, entries, err := openJournal(dir)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	if err := r.replay(entries); err != nil {
		j.close()
		return nil, fmt.Errorf("registry: replay %s: %w", j.path, err)
	}
	r.journal = j
	r.log.Info("schema registry state loaded", zap.String("file", j.path), zap.Int("entries", len(entries)))
	return r, nil
}

// replay rebuilds srfake's state from the journal, in order.
func (r *Registry) replay(entries []entry) error {
	seeded := make(map[int]bool)
	for i, e := range entries {
		switch e.Op {
		case opRegister:
			if e.Schema == nil {
				return fmt.Errorf("entry %d: register without schema", i+1)
			}
			if err := r.replayRegister(e, seeded[e.ID]); err != nil {
				return fmt.Errorf("entry %d (%s v%d id %d): %w", i+1, e.Subject, e.Version, e.ID, err)
			}
			seeded[e.ID] = true
		case opRequest:
			rec := r.call(e.Method, e.URI, []byte(e.Body))
			if rec.status/100 != 2 {
				return fmt.Errorf("entry %d: %s %s: HTTP %d: %s", i+1, e.Method, e.URI, rec.status, rec.body.String())
			}
		default:
			return fmt.Errorf("entry %d: unknown op %q", i+1, e.Op)
		}
	}
	return nil
}

// replayRegister puts one registration back with its exact version and id.
// srfake's SeedSchema refuses an id it already holds, and the same schema
// under a second subject shares its id; those go through RegisterSchema,
// which must then hand back the recorded id and version.
func (r *Registry) replayRegister(e entry, idKnown bool) (err error) {
	if idKnown {
		id, version, err := r.fake.RegisterSchema(e.Subject, *e.Schema)
		if err != nil {
			return err
		}
		if id != e.ID || version != e.Version {
			return fmt.Errorf("replay gave id %d version %d", id, version)
		}
		return nil
	}
	defer func() {
		// SeedSchema panics on a slot that is taken or a schema it
		// rejects; for us that is a corrupt journal, not a crash.
		if p := recover(); p != nil {
			err = fmt.Errorf("seed: %v", p)
		}
	}()
	r.fake.SeedSchema(e.Subject, e.Version, e.ID, *e.Schema)
	return nil
}

// Handler returns the registry's HTTP handler, for callers that serve it
// themselves (tests, or mounting beside other handlers).
func (r *Registry) Handler() http.Handler { return r.handler }

// Listen binds addr ("127.0.0.1:8081", or port 0 for a free port) and
// serves the registry on it in the background until Close. It returns the
// bound address.
func (r *Registry) Listen(addr string) (net.Addr, error) {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return nil, errors.New("registry: closed")
	}
	r.srvMu.Lock()
	defer r.srvMu.Unlock()
	if r.srv != nil {
		return nil, errors.New("registry: already listening")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("registry: listen %s: %w", addr, err)
	}
	r.srv = &http.Server{
		Handler:           r.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(r.log.Named("http")),
	}
	r.addr = ln.Addr()
	r.done = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("schema registry server stopped", zap.Error(err))
		}
	}(r.srv, r.done)
	r.log.Info("schema registry listening", zap.String("url", r.urlLocked()))
	return r.addr, nil
}

// URL returns "http://host:port" of the listener, with a wildcard bind
// address replaced by 127.0.0.1 so the URL is one a local client can dial.
// It is "" before Listen.
func (r *Registry) URL() string {
	r.srvMu.Lock()
	defer r.srvMu.Unlock()
	return r.urlLocked()
}

func (r *Registry) urlLocked() string {
	if r.addr == nil {
		return ""
	}
	return "http://" + dialable(r.addr)
}

// dialable returns addr as host:port, with an unspecified IP (0.0.0.0, ::)
// replaced by 127.0.0.1: a client cannot dial the wildcard address.
func dialable(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// Close stops the server (letting in-flight requests finish for up to five
// seconds) and closes the journal. Later mutations are refused. Calling it
// again is a no-op.
func (r *Registry) Close() error {
	var errs []error
	r.srvMu.Lock()
	if r.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := r.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("registry: shutdown: %w", err))
			r.srv.Close()
		}
		cancel()
		<-r.done
		r.srv = nil
	}
	r.srvMu.Unlock()

	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		if r.journal != nil {
			if err := r.journal.close(); err != nil {
				errs = append(errs, fmt.Errorf("registry: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}
