// Package enrich keeps what provbus knows about each PortaBilling account,
// derived from the event log, for the "state" field of delivery bodies
// (issue 13, docs/deliver.md "State"): the enrichment NSPS fetches from
// the billing API, here with no API call.
//
// Two sources feed one table (table.go), both read by Reader (reader.go):
// the directory's account table changelog (provbus.directory.accounts:
// customer, product, closed, including directory snapshots) and the account
// events themselves (portabilling.account and, for what a customer or
// product passed down, portabilling.account.inherited: closed, suspended,
// blocked, last status event). The directory stays the one home of
// ownership; this package only reads its changelog.
package enrich

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/provbus/provbus/internal/jsonstr"
	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/schemas"
)

// Event types that set a flag (canonical names: ingest resolves aliases
// such as Account/Status/Suspended before anything is written).
const (
	typeNew       = "Account/New"
	typeClosed    = "Account/Status/Closed"
	typeSuspend   = "Account/Status/Suspend"
	typeUnsuspend = "Account/Status/Unsuspend"
	typeBlocked   = "Account/Blocked"
	typeUnblocked = "Account/Unblocked"
)

// account is one account's entry, held by value in the map. It is kept
// small on purpose (56 bytes; see docs/deliver.md for the cost per account
// with the map's own), since every
// deliver instance holds every account: times are unix milliseconds and
// the last status type is an index into Table.types.
type account struct {
	customer, product int64 // from the directory; 0: not known
	// Each flag remembers the occurred_at of the event that set it, so
	// events read out of order across the two account topics (or
	// partitions) never let an older one win.
	closedAt, suspendedAt, blockedAt int64
	lastAt                           int64 // occurred_at of the last status event
	lastType                         uint16
	dirClosed                        bool // the directory's closed mark
	closed, suspended, blocked       bool
}

// Table is the per-account state. The reader applies to it on its own
// goroutine while deliveries read it, hence the lock.
type Table struct {
	mu       sync.RWMutex
	accounts map[int64]account
	types    []string // index 0 is "none"
	typeIdx  map[string]uint16
}

// NewTable returns an empty table.
func NewTable() *Table {
	return &Table{accounts: map[int64]account{}, types: []string{""}, typeIdx: map[string]uint16{}}
}

// ApplyDirectory applies one record of the directory's account table:
// row nil is a tombstone (the account left the directory).
func (t *Table) ApplyDirectory(id int64, row *directory.Row) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.accounts[id]
	if row == nil {
		if ok {
			a.customer, a.product, a.dirClosed = 0, 0, false
			t.accounts[id] = a
		}
		return
	}
	a.customer, a.product, a.dirClosed = row.Customer, row.Product, row.Closed
	t.accounts[id] = a
}

// ApplyEvent applies one account event, direct or inherited. Events of no
// account and types that change nothing here are ignored.
func (t *Table) ApplyEvent(ev *schemas.Event) {
	if ev.IAccount == nil {
		return
	}
	status := strings.HasPrefix(ev.EventType, "Account/Status/") || ev.EventType == typeBlocked || ev.EventType == typeUnblocked
	if !status && ev.EventType != typeNew {
		return
	}
	at := ev.OccurredAt.UnixMilli()
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.accounts[*ev.IAccount]
	defer func() { t.accounts[*ev.IAccount] = a }()
	set := func(flag *bool, flagAt *int64, v bool) {
		if at >= *flagAt {
			*flag, *flagAt = v, at
		}
	}
	switch ev.EventType {
	case typeNew:
		set(&a.closed, &a.closedAt, false)
	case typeClosed:
		set(&a.closed, &a.closedAt, true)
	case typeSuspend:
		set(&a.suspended, &a.suspendedAt, true)
	case typeUnsuspend:
		set(&a.suspended, &a.suspendedAt, false)
	case typeBlocked:
		set(&a.blocked, &a.blockedAt, true)
	case typeUnblocked:
		set(&a.blocked, &a.blockedAt, false)
	}
	if status && at >= a.lastAt {
		a.lastAt, a.lastType = at, t.intern(ev.EventType)
	}
}

// intern returns the index of an event type. Account event types are the
// catalog's (ingest quarantines the others), so the list stays small; past
// what an index holds the type is recorded as unknown rather than grown.
func (t *Table) intern(typ string) uint16 {
	if i, ok := t.typeIdx[typ]; ok {
		return i
	}
	if len(t.types) > 1<<16-1 {
		return 0
	}
	i := uint16(len(t.types))
	t.types = append(t.types, typ)
	t.typeIdx[typ] = i
	return i
}

// Len returns how many accounts the table holds.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.accounts)
}

// State is the "state" object of a delivery body: what provbus knew about
// the event's entities when the request was built.
type State struct {
	// Account is set when the event names an account the table knows.
	Account *Account `json:"account,omitempty"`
}

// Account is an account's state as of delivery. Field names are a
// contract with connectors (docs/deliver.md).
type Account struct {
	IAccount int64 `json:"i_account"`
	// ICustomer and IProduct are null while the directory has not
	// learned them.
	ICustomer *int64 `json:"i_customer"`
	IProduct  *int64 `json:"i_product"`
	Closed    bool   `json:"closed"`
	Suspended bool   `json:"suspended"`
	Blocked   bool   `json:"blocked"`
	// LastStatusEvent and LastStatusAt are the latest (by occurred_at)
	// Account/Status/*, Account/Blocked or Account/Unblocked event, direct
	// or inherited; null when none was seen.
	LastStatusEvent *string `json:"last_status_event"`
	LastStatusAt    *string `json:"last_status_at"`
	// AsOf is when this state was read: the body was built then.
	AsOf string `json:"as_of"`
}

// Of returns the state for ev as of now.
func (t *Table) Of(ev *schemas.Event, now time.Time) State {
	if ev.IAccount == nil {
		return State{}
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	a, ok := t.accounts[*ev.IAccount]
	if !ok {
		return State{}
	}
	s := &Account{IAccount: *ev.IAccount, Closed: a.closed || a.dirClosed, Suspended: a.suspended, Blocked: a.blocked,
		AsOf: now.UTC().Format(time.RFC3339Nano)}
	if a.customer != 0 { // a is a copy: the pointers outlive the lock
		s.ICustomer = &a.customer
	}
	if a.product != 0 {
		s.IProduct = &a.product
	}
	if a.lastAt != 0 || a.lastType != 0 {
		at := time.UnixMilli(a.lastAt).UTC().Format(time.RFC3339Nano)
		s.LastStatusAt = &at
		if a.lastType != 0 {
			typ := t.types[a.lastType]
			s.LastStatusEvent = &typ
		}
	}
	return State{Account: s}
}

// JSON returns the state for ev as of now, marshalled.
func (t *Table) JSON(ev *schemas.Event, now time.Time) json.RawMessage {
	b, err := json.Marshal(t.Of(ev, now))
	if err != nil {
		panic(err) // ints, bools and strings always marshal
	}
	return b
}

// AppendAccountJSON appends the state of an event of account iAccount
// (hasAccount false: of no account) as of now: the bytes JSON returns for
// such an event (TestAppendAccountJSONLikeJSON), written without a State,
// a lock held only for the look-up, nothing allocated: delivery's hot path.
func (t *Table) AppendAccountJSON(dst []byte, iAccount int64, hasAccount bool, now time.Time) []byte {
	if !hasAccount {
		return append(dst, "{}"...)
	}
	t.mu.RLock()
	a, ok := t.accounts[iAccount]
	typ := t.types[a.lastType] // types[0] is "", not written
	t.mu.RUnlock()
	if !ok {
		return append(dst, "{}"...)
	}
	dst = strconv.AppendInt(append(dst, `{"account":{"i_account":`...), iAccount, 10)
	dst = appendKnown(append(dst, `,"i_customer":`...), a.customer)
	dst = appendKnown(append(dst, `,"i_product":`...), a.product)
	dst = strconv.AppendBool(append(dst, `,"closed":`...), a.closed || a.dirClosed)
	dst = strconv.AppendBool(append(dst, `,"suspended":`...), a.suspended)
	dst = strconv.AppendBool(append(dst, `,"blocked":`...), a.blocked)
	seen := a.lastAt != 0 || a.lastType != 0
	dst = append(dst, `,"last_status_event":`...)
	if seen && a.lastType != 0 {
		dst = jsonstr.Append(dst, typ)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"last_status_at":`...)
	if seen {
		dst = jsonstr.AppendTime(dst, time.UnixMilli(a.lastAt))
	} else {
		dst = append(dst, "null"...)
	}
	dst = jsonstr.AppendTime(append(dst, `,"as_of":`...), now)
	return append(dst, "}}"...)
}

// appendKnown appends id, or null for 0 (not known).
func appendKnown(dst []byte, id int64) []byte {
	if id == 0 {
		return append(dst, "null"...)
	}
	return strconv.AppendInt(dst, id, 10)
}
