// Package directory keeps who owns each PortaBilling account — the
// account → customer and account → product relation — as a foreign-key
// join the dispatchers can use (design §4).
//
// Facts come from account events that carry i_customer / i_product
// (Account/New, Account/Product/Changed, …) and from directory snapshots
// (`provbus import directory`). The account table is keyed and partitioned
// by account, like portabilling.account, with its changelog in
// provbus.directory.accounts. Every change of owner or closed mark is
// re-keyed "<owner>/<account>" and written to the membership changelogs
// provbus.directory.customer-members and provbus.directory.product-members,
// partitioned by the owner like portabilling.customer and
// portabilling.product, so the dispatcher that owns a customer partition
// also owns that customer's memberships.
//
// The directory also writes watermarks into every membership partition: for
// each account partition, the offsets of both inputs below which every
// fact has been applied. A dispatcher waits for them to reach the inputs'
// end offsets before it fans a customer event out, so an account created
// before the customer event is always in its fan-out (watermark.go,
// docs/processing.md).
package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/metrics"
	"github.com/provbus/provbus/internal/stream"
	"github.com/provbus/provbus/topology"
)

// Topics and group of the directory. Names are contracts: changing one
// loses the state kept under it.
const (
	Group              = "provbus-directory"
	TopicAccounts      = "portabilling.account"
	TopicSnapshot      = topology.TopicDirectorySnapshot
	TopicAccountTable  = topology.TopicDirectoryAccounts
	TopicCustomerTable = topology.TopicCustomerMembers
	TopicProductTable  = topology.TopicProductMembers

	watermarkPrefix = "wm/"
	// watermarkOffsets prefixes the packed watermark record of one
	// directory member: "wm/off/<lowest account partition it owns>",
	// value "<partition>=<account offset>:<snapshot offset>,…" (see
	// watermark.go).
	watermarkOffsets = watermarkPrefix + "off/"
)

// Event types that change an account's closed mark.
const (
	typeNew    = "Account/New"
	typeClosed = "Account/Status/Closed"
)

// Directory is the directory processor.
type Directory struct {
	tables map[int32]map[int64]Row // input partition → account → row
	marks  *marks                  // the watermarks (watermark.go)

	accounts prometheus.Gauge // nil: not reported
}

// New returns a directory processor.
func New() *Directory {
	return &Directory{tables: map[int32]map[int64]Row{}, marks: newMarks()}
}

// Spec implements stream.Processor.
func (d *Directory) Spec() stream.Spec {
	return stream.Spec{
		Group:         Group,
		Inputs:        []stream.Input{{Topic: TopicAccounts}, {Topic: TopicSnapshot, Raw: true}},
		Outputs:       []string{TopicAccountTable, TopicCustomerTable, TopicProductTable},
		CoPartitioned: []string{TopicCustomerTable, TopicProductTable},
		Tables: []stream.Table{{
			Changelog: TopicAccountTable,
			Apply:     d.restore,
			Drop:      d.drop,
		}},
	}
}

// Snapshot is the JSON value of a provbus.directory.snapshot record.
type Snapshot struct {
	Account  int64  `json:"i_account"`
	Customer *int64 `json:"i_customer"`
	Product  *int64 `json:"i_product"`
	Closed   *bool  `json:"closed,omitempty"`
}

// Process implements stream.Processor.
func (d *Directory) Process(_ context.Context, in *stream.Record, out *stream.Output) error {
	// Every record read moves the watermark, facts or not: what
	// matters is that nothing below it is left unread in this partition.
	d.marks.observe(in.Raw.Partition)
	var f Fact
	switch in.Raw.Topic {
	case TopicSnapshot:
		var s Snapshot
		if err := json.Unmarshal(in.Raw.Value, &s); err != nil {
			return stream.Poison("invalid", fmt.Errorf("directory snapshot: %w", err))
		}
		if s.Account == 0 {
			return stream.Poison("invalid", fmt.Errorf("directory snapshot without i_account"))
		}
		f = Fact{Account: s.Account, Customer: s.Customer, Product: s.Product, Closed: s.Closed}
	default:
		ev := in.Event
		if ev.IAccount == nil {
			return nil // nothing to learn about membership
		}
		f = Fact{Account: *ev.IAccount, Customer: ev.ICustomer, Product: ev.IProduct}
		switch ev.EventType {
		case typeClosed:
			f.Closed = ptr(true)
		case typeNew:
			f.Closed = ptr(false)
		}
	}
	p := in.Raw.Partition
	row, changes, changed := d.learn(p, f)
	if !changed {
		return nil
	}
	key := []byte(strconv.FormatInt(f.Account, 10))
	value, _ := json.Marshal(row) // a struct of ints and a bool cannot fail
	if err := out.RecordTo(&kgo.Record{Topic: TopicAccountTable, Key: key, Value: value}, p); err != nil {
		return err
	}
	for _, c := range changes {
		if err := out.Record(memberRecord(c)); err != nil {
			return err
		}
	}
	return nil
}

// learn applies fact f of input partition p to the account table;
// changed is false when the row stayed the same (nothing to write).
func (d *Directory) learn(p int32, f Fact) (row Row, changes []Change, changed bool) {
	table := d.tables[p]
	if table == nil {
		table = map[int64]Row{}
		d.tables[p] = table
	}
	old := table[f.Account]
	row, changes = Apply(old, f)
	if len(changes) == 0 && row == old {
		return row, nil, false
	}
	table[f.Account] = row
	return row, changes, true
}

// memberRecord builds the changelog record of a membership change and the
// key it is partitioned by (the owner, like the owner's domain topic).
func memberRecord(c Change) (*kgo.Record, []byte) {
	topic := TopicCustomerTable
	if c.Kind == ProductMembers {
		topic = TopicProductTable
	}
	owner := strconv.FormatInt(c.Owner, 10)
	r := &kgo.Record{Topic: topic, Key: []byte(owner + "/" + strconv.FormatInt(c.Account, 10))}
	if !c.Leave {
		r.Value = []byte(`{"closed":false}`)
		if c.Closed {
			r.Value = []byte(`{"closed":true}`)
		}
	}
	return r, []byte(owner)
}

// Tick writes watermarks: when this poll processed records (or a
// partition was assigned since the last write), the packed record of this
// member goes to every membership partition, after the rows of the poll
// and in its transaction. The rule is watermark.go's.
func (d *Directory) Tick(_ context.Context, t stream.Tick, out *stream.Output) error {
	if d.accounts != nil {
		// Here rather than per fact: Tick runs once per poll on the
		// loop's goroutine, so the tables need no lock, and the sum is
		// over partitions, not accounts.
		n := 0
		for _, table := range d.tables {
			n += len(table)
		}
		d.accounts.Set(float64(n))
	}
	if len(t.Assigned) == 0 || t.Position == nil || !d.marks.due(t.Assigned) {
		return nil
	}
	key, value := d.marks.key(t.Assigned), d.marks.value(t)
	if len(value) == 0 {
		return nil
	}
	for _, topic := range []string{TopicCustomerTable, TopicProductTable} {
		for mp := int32(0); mp < out.Partitions(topic); mp++ {
			// Records are not reused across produces; key and value are
			// read-only and shared.
			if err := out.RecordTo(&kgo.Record{Topic: topic, Key: key, Value: value}, mp); err != nil {
				return err
			}
		}
	}
	return nil
}

// Instrument implements stream.Instrumented: the accounts of this
// instance's partitions go to provbus_directory_accounts (sum it over
// instances for the whole directory).
func (d *Directory) Instrument(p *metrics.Pipeline) { d.accounts = p.DirectoryAccounts() }

func (d *Directory) restore(p int32, r *kgo.Record) error {
	account, err := strconv.ParseInt(string(r.Key), 10, 64)
	if err != nil {
		return fmt.Errorf("account table key %q: %w", r.Key, err)
	}
	table := d.tables[p]
	if table == nil {
		table = map[int64]Row{}
		d.tables[p] = table
	}
	if r.Value == nil {
		delete(table, account)
		return nil
	}
	var row Row
	if err := json.Unmarshal(r.Value, &row); err != nil {
		return fmt.Errorf("account table %d: %w", account, err)
	}
	table[account] = row
	return nil
}

func (d *Directory) drop(p int32) {
	delete(d.tables, p)
	d.marks.drop(p)
}

// Lookup returns the row of account in input partition p (for tests and
// tools).
func (d *Directory) Lookup(p int32, account int64) (Row, bool) {
	r, ok := d.tables[p][account]
	return r, ok
}

func parseMemberKey(key string) (owner, account int64, err error) {
	o, a, ok := strings.Cut(key, "/")
	if ok {
		owner, err = strconv.ParseInt(o, 10, 64)
		if err == nil {
			account, err = strconv.ParseInt(a, 10, 64)
		}
	}
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("membership key %q: want <owner>/<account>", key)
	}
	return owner, account, nil
}

func ptr[T any](v T) *T { return &v }
