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
// (stream.Table with Follow). Before fanning an event out it waits for the
// directory's watermarks to pass the event's timestamp, so every account
// fact logged before the event is in the fan-out.
package dispatch

import (
	"context"
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

// DefaultMaxWait bounds how long a parent event waits for the directory's
// watermark; past it the event is dispatched with the memberships known
// (and a warning), so a stopped directory delays dispatch but never stops
// it.
const DefaultMaxWait = 30 * time.Second

// Dispatcher is the dispatch processor.
type Dispatcher struct {
	cat       *topology.Catalog
	log       *zap.Logger
	maxWait   time.Duration
	customers *directory.Members
	products  *directory.Members
	buf       []directory.Member
	fanout    prometheus.Observer // nil: not measured
}

// New returns a dispatcher following cat's inheritance rules; maxWait 0
// means DefaultMaxWait.
func New(cat *topology.Catalog, log *zap.Logger, maxWait time.Duration) *Dispatcher {
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Dispatcher{cat: cat, log: log, maxWait: maxWait,
		customers: directory.NewMembers(), products: directory.NewMembers()}
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
	if !members.Wait(ctx, p, out.Partitions(directory.TopicAccounts), in.Raw.Timestamp, d.maxWait) {
		if err := ctx.Err(); err != nil {
			return err
		}
		d.log.Warn("directory watermark not reached; dispatching with the memberships known",
			zap.String("event_id", ev.EventID), zap.Int32("partition", p), zap.Duration("waited", d.maxWait))
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
// accounts) goes to provbus_dispatch_fanout_size.
func (d *Dispatcher) Instrument(p *metrics.Pipeline) { d.fanout = p.FanoutSize() }

// Members returns the followed membership tables (for tests and benchmarks).
func (d *Dispatcher) Members() (customers, products *directory.Members) {
	return d.customers, d.products
}
