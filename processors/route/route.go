// Package route is the router processor of design §1 and §3: it reads every
// domain topic and portabilling.account.inherited and writes each event to the
// handler topics (handler.<slug>) whose catalog entry subscribes to it.
//
// A handler receives a DIRECT event of type E when its catalog entry lists E,
// and an INHERITED event of type E only when its row for E is marked
// inherited (seed 000's "Y"): the decision is per handler and per event type,
// and it is the catalog's (topology.Catalog.Subscribers), never this package's.
//
// The core is pure and needs no broker: Router.Route turns one decoded event
// into the records to write. De-duplication (Dedup) sits in front of the
// fan-out and keeps, per input partition, the 64-bit hashes of the event ids
// routed within the window, so a webhook retry or a replay reaches each
// handler once. The Kafka plumbing (poll, transaction, changelog, DLQ) is the
// shared runner's, in internal/stream.
package route

import (
	"errors"
	"fmt"

	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// ErrUnroutable marks an event that decoded but cannot be routed: no
// event_id, an origin that is neither DIRECT nor INHERITED, an event type the
// catalog does not know, or no entity id to key the handler record with. It
// is poison: the runner sends the record to provbus.dlq with reason
// "unroutable" and goes on.
var ErrUnroutable = errors.New("event cannot be routed")

// Out is one record the router writes: ev, unchanged, to a handler topic,
// keyed by the entity id.
type Out struct {
	Handler *topology.Handler
	Topic   string
	Key     []byte
	Event   *schemas.Event
}

// Router decides which handler topics receive an event. It is safe for
// concurrent use: it only reads the immutable catalog.
type Router struct {
	cat  *topology.Catalog
	only *topology.Handler // non-nil: route to this handler alone (backfill)
}

// Option configures a Router.
type Option func(*Router)

// OnlyHandler restricts routing to one handler, as `provbus route backfill`
// does (default: every subscribed handler).
func OnlyHandler(h *topology.Handler) Option {
	return func(r *Router) { r.only = h }
}

// New returns a router over the catalog.
func New(cat *topology.Catalog, opts ...Option) *Router {
	r := &Router{cat: cat}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Targets returns the handlers (each with a topic) that receive ev. The
// slice is shared with the catalog and must not be modified. Zero handlers
// with a nil error means nobody subscribes: the event is filtered, not lost
// (it stays in its domain topic).
func (r *Router) Targets(ev *schemas.Event) ([]*topology.Handler, error) {
	if ev.EventID == "" {
		return nil, fmt.Errorf("%w: empty event_id", ErrUnroutable)
	}
	var origin topology.Origin
	switch ev.Origin {
	case schemas.OriginDirect:
		origin = topology.OriginDirect
	case schemas.OriginInherited:
		origin = topology.OriginInherited
	default:
		return nil, fmt.Errorf("%w: event %s: origin %q", ErrUnroutable, ev.EventID, ev.Origin)
	}
	hs := r.cat.Subscribers(ev.EventType, origin)
	if hs == nil {
		// Subscribers answers nil both for "unknown type" and "no
		// subscriber"; only the first is poison.
		if _, ok := r.cat.Lookup(ev.EventType); !ok {
			return nil, fmt.Errorf("%w: event %s: type %q is not in the catalog", ErrUnroutable, ev.EventID, ev.EventType)
		}
		return nil, nil
	}
	if r.only != nil {
		for _, h := range hs {
			if h == r.only || h.Name == r.only.Name {
				return []*topology.Handler{h}, nil
			}
		}
		return nil, nil
	}
	return hs, nil
}

// Route appends to dst the records for ev and returns dst. key is the input
// record's key: the domain topic is keyed by the same entity id a handler
// topic is (design §2), so reusing it keeps an account's events in order
// without re-deriving it; when it is empty the key is derived from the
// event's domain.
func (r *Router) Route(dst []Out, ev *schemas.Event, key []byte) ([]Out, error) {
	hs, err := r.Targets(ev)
	if err != nil || len(hs) == 0 {
		return dst, err
	}
	if len(key) == 0 {
		k, err := r.Key(ev)
		if err != nil {
			return dst, err
		}
		key = []byte(k)
	}
	for _, h := range hs {
		dst = append(dst, Out{Handler: h, Topic: h.Topic, Key: key, Event: ev})
	}
	return dst, nil
}

// Key returns the handler record key of ev: the typed id that keys its
// domain (i_account for account events, msisdn for Transatel, …).
func (r *Router) Key(ev *schemas.Event) (string, error) {
	field := "i_account" // inherited events are account events
	if ev.Origin != schemas.OriginInherited {
		d, ok := r.cat.DomainOf(ev.EventType)
		if !ok {
			return "", fmt.Errorf("%w: event %s: type %q has no domain", ErrUnroutable, ev.EventID, ev.EventType)
		}
		field = d.Key
	}
	k, ok := ev.Key(field)
	if !ok {
		return "", fmt.Errorf("%w: event %s carries no %s to key it", ErrUnroutable, ev.EventID, field)
	}
	return k, nil
}

// Inputs returns the topics the router reads: every domain topic and the
// derived portabilling.account.inherited.
func Inputs(cat *topology.Catalog) []string {
	var out []string
	for _, d := range cat.Domains() {
		out = append(out, d.Topic)
	}
	for _, d := range cat.Derived() {
		out = append(out, d.Topic)
	}
	return out
}

// Outputs returns the topics the router writes: every handler topic.
func Outputs(cat *topology.Catalog) []string {
	return cat.HandlerTopics()
}
