// Package dispatch holds PortaBilling's CustomerToAccountsDispatcher and
// ProductToAccountsDispatcher as one stream processor (design §3): a
// customer or product event whose type the catalog's inheritance rules
// list becomes one inherited account event per open account of that
// customer or product, written to portabilling.account.inherited keyed by
// i_account.
//
// The accounts come from the directory's membership tables, which are
// partitioned like portabilling.customer and portabilling.product: the
// dispatcher that owns customer partition p follows membership partition p
// (stream.Table with Follow). Before a poll's transaction begins (Ready,
// stream.Gate) it waits for the directory's watermarks to reach the end
// offsets of the directory's inputs listed after the poll, so every
// account fact logged before an event is in that event's fan-out, and no
// transaction is open while it waits. A directory stopped with facts
// unread blocks dispatch until it is back: see docs/processing.md, "When
// the directory is down".
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/provbus/provbus/internal/metrics"
	"github.com/provbus/provbus/internal/stream"
	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/topology"
)

// Group and topics of the dispatchers. Names are contracts.
const (
	Group          = "provbus-dispatch"
	TopicCustomer  = "portabilling.customer"
	TopicProduct   = "portabilling.product"
	TopicInherited = topology.TopicAccountInherited
)

// blockedLogEvery is how often a dispatcher blocked on the directory says
// so in its log.
const blockedLogEvery = 10 * time.Second

// Dispatcher is the dispatch processor.
type Dispatcher struct {
	cat       *topology.Catalog
	log       *zap.Logger
	customers *directory.Members
	products  *directory.Members
	buf       []directory.Member
	fanout    prometheus.Observer // nil: not measured
	blocked   prometheus.Gauge    // nil: not measured
	unordered bool
}

// Option configures a Dispatcher.
type Option func(*Dispatcher)

// Unordered switches the wait for the directory off: events are fanned out
// to the memberships known when they are processed, so an account created
// just before its customer's event can be missed. It exists for the
// negative twin of TestDispatchOrdering, which must see that loss; never
// use it in production (default: ordered).
func Unordered() Option { return func(d *Dispatcher) { d.unordered = true } }

// New returns a dispatcher following cat's inheritance rules.
func New(cat *topology.Catalog, log *zap.Logger, opts ...Option) *Dispatcher {
	if log == nil {
		log = zap.NewNop()
	}
	d := &Dispatcher{cat: cat, log: log, customers: directory.NewMembers(), products: directory.NewMembers()}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Spec implements stream.Processor.
func (d *Dispatcher) Spec() stream.Spec {
	return stream.Spec{
		Group:  Group,
		Inputs: []stream.Input{{Topic: TopicCustomer}, {Topic: TopicProduct}},
		// The watermarks count portabilling.account's partitions.
		Outputs:       []string{TopicInherited, directory.TopicAccounts},
		CoPartitioned: []string{directory.TopicAccounts},
		Tables: []stream.Table{
			{Changelog: directory.TopicCustomerTable, Follow: true, Apply: d.customers.Apply, Drop: d.customers.Drop},
			{Changelog: directory.TopicProductTable, Follow: true, Apply: d.products.Apply, Drop: d.products.Drop},
		},
	}
}

// errNotReleased is Process meeting an event the gate did not hold back
// (a runner that does not call Ready): retried, never dispatched short.
var errNotReleased = errors.New("directory watermark not reached (stream.Gate not honoured)")

// Ready implements stream.Gate: it blocks, before the poll's transaction
// begins, until the directory's watermarks in the record's membership
// partition reach the end offsets of the directory's inputs listed after
// the poll returned (directory/watermark.go): every account fact appended
// before the record is then applied. Every record of the parent topics
// waits, inherited type or not: one rule, the same for Ready and Process;
// a caught-up directory makes it a look-up. While the directory is down
// with facts unread it blocks without limit (dispatching with fewer
// accounts than exist would lose provisioning events silently), says so
// every blockedLogEvery and sets provbus_dispatch_blocked_since_seconds.
func (d *Dispatcher) Ready(ctx context.Context, in *stream.Record, topics stream.Partitions) error {
	members := d.members(in.Raw.Topic)
	if members == nil || d.unordered {
		return nil
	}
	p, n := in.Raw.Partition, topics.Partitions(directory.TopicAccounts)
	ends, err := d.ends(ctx, topics)
	if err == nil && members.Reached(p, n, ends) {
		return nil
	}
	started := time.Now()
	if d.blocked != nil {
		d.blocked.Set(float64(started.UnixMilli()) / 1000)
		defer d.blocked.Set(0)
	}
	for {
		if err == nil && members.Wait(ctx, p, n, ends, blockedLogEvery) {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			d.log.Warn("dispatch blocked: cannot list the directory inputs' end offsets", zap.Error(err))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
			ends, err = d.ends(ctx, topics)
			continue
		}
		d.log.Warn("dispatch blocked: the directory has not applied the account facts logged before this record (is provbus-directory running and caught up?)",
			zap.String("topic", in.Raw.Topic), zap.Int32("partition", p), zap.Int64("offset", in.Raw.Offset),
			zap.Duration("blocked_for", time.Since(started).Round(time.Second)))
	}
}

// ends returns the poll's end offsets of the directory's inputs.
func (d *Dispatcher) ends(ctx context.Context, topics stream.Partitions) (directory.Ends, error) {
	ends := directory.Ends{}
	for _, t := range []string{directory.TopicAccounts, directory.TopicSnapshot} {
		e, err := topics.EndOffsets(ctx, t)
		if err != nil {
			return nil, err
		}
		ends[t] = e
	}
	return ends, nil
}

func (d *Dispatcher) members(topic string) *directory.Members {
	switch topic {
	case TopicCustomer:
		return d.customers
	case TopicProduct:
		return d.products
	}
	return nil
}

// Process implements stream.Processor.
func (d *Dispatcher) Process(ctx context.Context, in *stream.Record, out *stream.Output) error {
	ev := in.Event
	rules := d.cat.InheritedFrom(ev.EventType)
	if len(rules) == 0 {
		return nil // not an inherited type: nothing to dispatch
	}
	members, owner, field := d.customers, ev.ICustomer, "i_customer"
	if in.Raw.Topic == TopicProduct {
		members, owner, field = d.products, ev.IProduct, "i_product"
	}
	if owner == nil {
		return stream.Poison("invalid", fmt.Errorf("%s event %s without %s", ev.EventType, ev.EventID, field))
	}
	p := in.Raw.Partition
	if !d.unordered {
		ends, err := d.ends(ctx, out)
		if err != nil {
			return err
		}
		if !members.Reached(p, out.Partitions(directory.TopicAccounts), ends) {
			return fmt.Errorf("event %s: %w", ev.EventID, errNotReleased)
		}
	}
	d.buf = members.Accounts(p, *owner, d.buf[:0])
	for _, rule := range rules {
		for i, m := range d.buf {
			child := Inherit(ev, rule, m.Account, i, len(d.buf))
			if err := out.Event(TopicInherited, strconv.FormatInt(m.Account, 10), &child); err != nil {
				return err
			}
		}
	}
	if d.fanout != nil {
		d.fanout.Observe(float64(len(rules) * len(d.buf)))
	}
	return nil
}

// Instrument implements stream.Instrumented: the fan-out size of every
// dispatched event (inherited events written, 0 for an owner without
// accounts) goes to provbus_dispatch_fanout_size, and the start of a wait
// for the directory that is not over yet to
// provbus_dispatch_blocked_since_seconds.
func (d *Dispatcher) Instrument(p *metrics.Pipeline) {
	d.fanout, d.blocked = p.FanoutSize(), p.DispatchBlockedSince()
}

// Members returns the followed membership tables (for tests and benchmarks).
func (d *Dispatcher) Members() (customers, products *directory.Members) {
	return d.customers, d.products
}
