package eventlog

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// TestHistoryLineage: a customer event, the inherited account event the
// dispatcher derived from it, and the handler delivery of that event come
// back in time order for the account, each with its cause; records of other
// entities — including a customer whose id equals the account's — do not.
func TestHistoryLineage(t *testing.T) {
	c := startCluster(t)
	cat, err := topology.Default()
	if err != nil {
		t.Fatal(err)
	}
	const cust, inh, acct, iptv = "portabilling.customer", topology.TopicAccountInherited, "portabilling.account", "handler.iptv"
	c.create(4, cust, inh, acct, iptv)
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	ms := time.Millisecond

	parent := &schemas.Event{EventID: "c1", Source: "portabilling", EventType: "Customer/Status/Closed", Origin: schemas.OriginDirect,
		OccurredAt: t0, ReceivedAt: t0, ICustomer: i64(7)}
	child := accountEvent("c1/42", "Account/Status/Closed", 42, 7, t0)
	child.Origin, child.ParentEventID, child.InheritedFrom = schemas.OriginInherited, str("c1"), str(schemas.InheritedFromCustomer)
	sibling := accountEvent("c1/43", "Account/Status/Closed", 43, 7, t0)
	sibling.Origin, sibling.ParentEventID, sibling.InheritedFrom = schemas.OriginInherited, str("c1"), str(schemas.InheritedFromCustomer)
	direct := accountEvent("a9", "Account/BalanceChanged", 42, 7, t0.Add(-time.Minute))
	// Customer 42's own event, delivered under the key "42" too.
	other := &schemas.Event{EventID: "c42", Source: "portabilling", EventType: "Customer/Status/Closed", Origin: schemas.OriginDirect,
		OccurredAt: t0, ReceivedAt: t0, ICustomer: i64(42)}

	c.produce(
		c.rec(acct, "42", t0.Add(-time.Minute), direct),
		c.rec(cust, "7", t0, parent),
		c.rec(cust, "42", t0, other),
		c.rec(inh, "42", t0.Add(10*ms), child),
		c.rec(inh, "43", t0.Add(10*ms), sibling),
		c.rec(iptv, "42", t0.Add(20*ms), child),
		c.rec(iptv, "42", t0.Add(20*ms), other),
	)

	h := &History{Catalog: cat, Codec: c.codec}
	got, err := h.Run(context.Background(), c.dial, Entity{"i_account", "42"})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range got {
		lines = append(lines, e.Record.Topic+" "+e.Event.EventID+" <"+strings.Join(e.Cause, ">")+">")
	}
	want := []string{
		"portabilling.account a9 <>",
		"portabilling.customer c1 <>",
		"portabilling.account.inherited c1/42 <c1>",
		"handler.iptv c1/42 <c1>c1/42>",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("history:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}

	// The customer's history has its own events and deliveries only.
	h = &History{Catalog: cat, Codec: c.codec}
	got, err = h.Run(context.Background(), c.dial, Entity{"i_customer", "42"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Event.EventID != "c42" || got[1].Record.Topic != iptv {
		t.Fatalf("customer 42: %v", got)
	}

	h = &History{Catalog: cat, Codec: c.codec}
	if _, err := h.Run(context.Background(), c.dial, Entity{"i_account", "999"}); !errors.Is(err, ErrEmptyWindow) {
		t.Fatalf("unknown account: err = %v, want ErrEmptyWindow", err)
	}
}

// TestHistoryMaxOffsets: with MaxOffsets the history reads each partition's
// newest offsets only, says from when it is complete (Horizon) and drops
// what is older; without it (the twin) the old event is there.
func TestHistoryMaxOffsets(t *testing.T) {
	c := startCluster(t)
	cat, err := topology.Default()
	if err != nil {
		t.Fatal(err)
	}
	const acct = "portabilling.account"
	c.create(1, acct, topology.TopicAccountInherited, "handler.iptv")
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	recs = append(recs, c.rec(acct, "42", t0, accountEvent("old", "Account/New", 42, 7, t0)))
	for i := int64(1); i <= 20; i++ { // other accounts, same partition
		at := t0.Add(time.Duration(i) * time.Minute)
		recs = append(recs, c.rec(acct, itoa(100+i), at, accountEvent("x"+itoa(i), "Account/New", 100+i, 7, at)))
	}
	late := t0.Add(time.Hour)
	recs = append(recs, c.rec(acct, "42", late, accountEvent("new", "Account/BalanceChanged", 42, 7, late)))
	c.produce(recs...)

	h := &History{Catalog: cat, Codec: c.codec, MaxOffsets: 5}
	got, err := h.Run(context.Background(), c.dial, Entity{"i_account", "42"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Event.EventID != "new" {
		t.Fatalf("bounded history: %d entries, want only the new event", len(got))
	}
	if want := t0.Add(17 * time.Minute); !h.Horizon.Equal(want) {
		t.Fatalf("horizon %s, want %s (the oldest of the 5 newest offsets)", h.Horizon, want)
	}
	h = &History{Catalog: cat, Codec: c.codec}
	if got, err = h.Run(context.Background(), c.dial, Entity{"i_account", "42"}); err != nil || len(got) != 2 || !h.Horizon.IsZero() {
		t.Fatalf("unbounded history: %d entries, horizon %s, err %v; want both events", len(got), h.Horizon, err)
	}
}
