package enrich

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/schemas"
)

func accountEvent(acc int64, typ string, at time.Time, inherited bool) *schemas.Event {
	ev := &schemas.Event{EventID: typ, Source: "portabilling", EventType: typ, Origin: schemas.OriginDirect, IAccount: &acc, OccurredAt: at}
	if inherited {
		from := schemas.InheritedFromCustomer
		ev.Origin, ev.InheritedFrom = schemas.OriginInherited, &from
	}
	return ev
}

// The flags follow the events by occurred_at, whatever order they are
// read in (two topics, several partitions), and ownership comes from the
// directory.
func TestTableFollowsEventsByOccurredAt(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	tb := NewTable()
	tb.ApplyDirectory(11, &directory.Row{Customer: 5, Product: 3})
	tb.ApplyEvent(accountEvent(11, typeNew, t0, false))
	tb.ApplyEvent(accountEvent(11, typeUnsuspend, t0.Add(3*time.Minute), false))
	tb.ApplyEvent(accountEvent(11, typeSuspend, t0.Add(time.Minute), true)) // older, read late
	tb.ApplyEvent(accountEvent(11, typeBlocked, t0.Add(2*time.Minute), false))
	tb.ApplyEvent(accountEvent(11, "Account/BalanceChanged", t0.Add(4*time.Minute), false))
	s := tb.Of(accountEvent(11, typeBlocked, t0, false), t0.Add(time.Hour)).Account
	if s == nil || *s.ICustomer != 5 || *s.IProduct != 3 || s.Closed || s.Suspended || !s.Blocked ||
		*s.LastStatusEvent != typeUnsuspend || *s.LastStatusAt != "2026-11-30T10:03:00Z" {
		t.Fatalf("state %+v", s)
	}
	tb.ApplyEvent(accountEvent(11, typeClosed, t0.Add(5*time.Minute), true))
	if s := tb.Of(accountEvent(11, typeNew, t0, false), t0).Account; !s.Closed || *s.LastStatusEvent != typeClosed {
		t.Fatalf("after the inherited close: %+v", s)
	}
	tb.ApplyDirectory(11, nil)
	if s := tb.Of(accountEvent(11, typeNew, t0, false), t0).Account; s.ICustomer != nil || !s.Closed {
		t.Fatalf("after the directory tombstone: %+v", s)
	}
}

// Events of no account or of an unknown one carry an empty state; the JSON
// names are the contract of docs/deliver.md.
func TestStateJSON(t *testing.T) {
	tb := NewTable()
	at := time.Unix(0, 0)
	if got := string(tb.JSON(&schemas.Event{EventType: "Customer/New"}, at)); got != `{}` {
		t.Fatalf("no account: %s", got)
	}
	if got := string(tb.JSON(accountEvent(7, typeNew, at, false), at)); got != `{}` {
		t.Fatalf("unknown account: %s", got)
	}
	tb.ApplyEvent(accountEvent(7, typeNew, at, false))
	var m map[string]map[string]any
	if err := json.Unmarshal(tb.JSON(accountEvent(7, typeNew, at, false), at), &m); err != nil {
		t.Fatal(err)
	}
	want := []string{"i_account", "i_customer", "i_product", "closed", "suspended", "blocked", "last_status_event", "last_status_at", "as_of"}
	if len(m["account"]) != len(want) {
		t.Fatalf("fields %v, want %v", m["account"], want)
	}
	for _, k := range want {
		if _, ok := m["account"][k]; !ok {
			t.Errorf("no %s in %v", k, m["account"])
		}
	}
	if m["account"]["i_customer"] != nil || m["account"]["last_status_event"] != nil {
		t.Errorf("unknowns must be null: %v", m["account"])
	}
}

// TestAppendAccountJSONLikeJSON: the state written by hand is, byte for
// byte, what JSON (encoding/json of the State) writes, over random
// accounts: ids known or not, every flag, no last status or one whose type
// needs escaping, times in other zones; and for unknown and absent
// accounts.
func TestAppendAccountJSONLikeJSON(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	tb := NewTable()
	types := []string{"Account/Blocked", "Account/Status/Closed", `Odd "quoted" type`, "A<B>&C", "Typ\u00e9\u2028\x01", "\xff"}
	for _, typ := range types {
		tb.intern(typ)
	}
	pick := func(v int64) int64 {
		if rnd.IntN(2) == 0 {
			return 0
		}
		return v
	}
	buf := []byte("old contents")
	for i := range 2000 {
		id := int64(i + 1)
		a := account{customer: pick(rnd.Int64()), product: pick(rnd.Int64N(1000)), dirClosed: rnd.IntN(4) == 0,
			closed: rnd.IntN(2) == 0, suspended: rnd.IntN(2) == 0, blocked: rnd.IntN(2) == 0}
		switch rnd.IntN(3) {
		case 1:
			a.lastAt, a.lastType = rnd.Int64N(4e12)-1e12, uint16(1+rnd.IntN(len(types)))
		case 2:
			a.lastAt = rnd.Int64N(4e12) // a time with no type interned (the table full)
		}
		tb.accounts[id] = a
		now := time.Unix(rnd.Int64N(4e9), rnd.Int64N(1e9)).In(time.FixedZone("x", 3600*(rnd.IntN(24)-12)))
		ev := &schemas.Event{IAccount: &id}
		if got, want := string(tb.AppendAccountJSON(buf[:0], id, true, now)), string(tb.JSON(ev, now)); got != want {
			t.Fatalf("account %+v:\n got %s\nwant %s", a, got, want)
		}
	}
	unknown := int64(-5)
	if got, want := string(tb.AppendAccountJSON(nil, unknown, true, time.Now())), string(tb.JSON(&schemas.Event{IAccount: &unknown}, time.Now())); got != want {
		t.Fatalf("unknown account: got %s want %s", got, want)
	}
	if got, want := string(tb.AppendAccountJSON(nil, 0, false, time.Now())), string(tb.JSON(&schemas.Event{}, time.Now())); got != want {
		t.Fatalf("no account: got %s want %s", got, want)
	}
}
