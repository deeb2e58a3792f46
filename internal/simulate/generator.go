// Package simulate generates realistic provisioning traffic for the three
// sources provbus ingests — PortaBilling ESPF, Transatel and JeraSoft VCS —
// and sends it to an ingest over HTTP (`provbus simulate`, and the ingest
// and end-to-end lines of `provbus bench`).
//
// The Generator is pure: a population (customers with a skewed number of
// accounts, products, DIDs, SIMs, JeraSoft clients) and per-entity
// lifecycles (Account/New before anything else about an account; SIMs
// PREACTIVATED → ACTIVATED → SUSPENDED → REACTIVATED → TERMINATED; FR and
// UK portability flows step by step; JeraSoft client → accounts →
// subscriptions) advanced by one seeded random source on a virtual clock.
// The same Config gives the same sequence of bodies, byte for byte, so a
// run can be reproduced and a retry storm replayed. Run (send.go) is the
// HTTP side.
package simulate

import (
	"math/rand/v2"
	"time"
)

// Source names, as in the ingest URL /v1/sources/<name>/events.
const (
	PortaBilling = "portabilling"
	Transatel    = "transatel"
	JeraSoft     = "jerasoft"
)

// Mix weighs the sources. The default is an installation where
// PortaBilling is the billing system of record, Transatel provides the
// mobile connectivity and a JeraSoft VCS rates the wholesale voice
// traffic: most events are account and customer events.
type Mix struct {
	PortaBilling, Transatel, JeraSoft int
}

// DefaultMix is the mix of a typical installation (70/20/10).
var DefaultMix = Mix{PortaBilling: 70, Transatel: 20, JeraSoft: 10}

// Config is what a Generator is built from. Equal Configs give equal event
// sequences.
type Config struct {
	// Seed selects the population and the sequence (default 1).
	Seed uint64
	// Start is the virtual clock's first instant; event times advance
	// from it by about a millisecond per event (default 2026-01-01
	// 00:00:00 UTC, fixed so a seed alone reproduces the bytes).
	Start time.Time
	// Customers sizes the population: accounts are about 12 per customer
	// on average (heavily skewed), SIMs 2 per customer, JeraSoft clients
	// one per four customers, DIDs one per two (default 2 000).
	Customers int
	// Mix weighs the sources (default DefaultMix). A zero weight leaves a
	// source out.
	Mix Mix
	// FirstEventID is the first ESPF i_event (default derived from Seed,
	// so runs with different seeds do not collide in de-duplication).
	FirstEventID int64
	// DirectOnly leaves out the PortaBilling events that fan out to
	// accounts (customer and product changes), so every event reaches
	// handler topics directly: the end-to-end benchmark measures direct
	// latency with and without fan-out load this way.
	DirectOnly bool
}

// Event is one generated event: a single JSON element in its source's
// wire format.
type Event struct {
	Source string
	Type   string
	At     time.Time
	// Body is the element's JSON; the sender batches ESPF elements into
	// arrays. It is the Generator's own copy and stays valid.
	Body []byte
}

// Generator produces events. It is not safe for concurrent use; Run drives
// one from a single goroutine.
type Generator struct {
	r     *rand.Rand
	pop   *population
	now   time.Time
	mix   Mix
	total int
	event int64 // next ESPF i_event
	seq   int64 // events generated so far
	// pbActions is the PortaBilling mix drawn from (pbActions, or the
	// direct part of it with Config.DirectOnly).
	pbActions  []weighted[pbAction]
	directOnly bool
	o          obj
}

// New returns a Generator for cfg.
func New(cfg Config) *Generator {
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if cfg.Customers <= 0 {
		cfg.Customers = 2000
	}
	if cfg.Mix == (Mix{}) {
		cfg.Mix = DefaultMix
	}
	if cfg.FirstEventID <= 0 {
		cfg.FirstEventID = 1 + int64(cfg.Seed%1_000_000)*1_000_000_000
	}
	r := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	g := &Generator{r: r, now: cfg.Start.UTC(), mix: cfg.Mix, event: cfg.FirstEventID, pbActions: pbActions}
	if cfg.DirectOnly {
		g.pbActions, g.directOnly = directActions(pbActions), true
	}
	g.pop = newPopulation(r, cfg.Customers)
	g.total = max(cfg.Mix.PortaBilling, 0) + max(cfg.Mix.Transatel, 0) + max(cfg.Mix.JeraSoft, 0)
	return g
}

// Next returns the next event.
func (g *Generator) Next() Event {
	g.seq++
	// Inter-arrival times of a Poisson process with a mean of 1 ms.
	g.now = g.now.Add(time.Duration(g.r.ExpFloat64() * float64(time.Millisecond)))
	x := g.r.IntN(max(g.total, 1))
	var ev Event
	switch {
	case x < g.mix.PortaBilling:
		ev = g.portabilling()
	case x < g.mix.PortaBilling+g.mix.Transatel:
		ev = g.transatel()
	default:
		ev = g.jerasoft()
	}
	ev.At = g.now
	return ev
}

// Generated returns how many events Next has returned.
func (g *Generator) Generated() int64 { return g.seq }

// body returns the finished object as a fresh slice the event owns.
func (g *Generator) body() []byte {
	out := make([]byte, len(g.o.b))
	copy(out, g.o.b)
	return out
}

// pick returns one of choices with probability proportional to its weight.
func pick[T any](r *rand.Rand, choices []weighted[T]) T {
	total := 0
	for _, c := range choices {
		total += c.w
	}
	x := r.IntN(total)
	for _, c := range choices {
		if x < c.w {
			return c.v
		}
		x -= c.w
	}
	return choices[len(choices)-1].v
}

type weighted[T any] struct {
	w int
	v T
}
