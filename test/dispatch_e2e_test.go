package test

import (
	"fmt"
	"testing"
	"time"

	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/processors/dispatch"
	"github.com/provbus/provbus/schemas"
)

// Account/New gives customer 1 two accounts; Customer/Status/Suspend yields
// exactly two inherited Account/Status/Suspend events with their lineage;
// Product/ServiceAttribute/Changed fans out to the product's accounts.
func TestDispatchEndToEnd(t *testing.T) {
	t.Parallel()
	c := startPCluster(t, 4)
	c.runInProcess(t)
	c.send(directory.TopicAccounts, "i_account", accountNew(101, 1, 7), accountNew(102, 1, 8), accountNew(103, 2, 7))
	c.send(dispatch.TopicCustomer, "i_customer", customerEvent("c-susp-1", "Customer/Status/Suspend", 1))
	c.send(dispatch.TopicProduct, "i_product", productEvent("p-attr-7", "Product/ServiceAttribute/Changed", 7))

	got := c.readInherited(4, 2*time.Second, 60*time.Second)
	byParent := map[string][]schemas.Event{}
	for _, e := range got {
		byParent[*e.ev.ParentEventID] = append(byParent[*e.ev.ParentEventID], e.ev)
	}
	check := func(parent, typ, from string, accounts ...int64) {
		t.Helper()
		evs := byParent[parent]
		if len(evs) != len(accounts) {
			t.Fatalf("%s: %d inherited events, want %d: %+v", parent, len(evs), len(accounts), evs)
		}
		seen := map[int64]bool{}
		for _, ev := range evs {
			seen[*ev.IAccount] = true
			if ev.EventType != typ || ev.Origin != schemas.OriginInherited || *ev.InheritedFrom != from ||
				*ev.FanOutCount != int32(len(accounts)) || ev.EventID != dispatch.EventID(parent, *ev.IAccount, typ) {
				t.Errorf("%s: bad inherited event %+v", parent, ev)
			}
		}
		for _, a := range accounts {
			if !seen[a] {
				t.Errorf("%s: account %d missing", parent, a)
			}
		}
	}
	check("c-susp-1", "Account/Status/Suspend", "CUSTOMER", 101, 102)
	check("p-attr-7", "Account/ServiceAttribute/Changed", "PRODUCT", 101, 103)
	if len(got) != 4 {
		t.Fatalf("%d inherited records, want 4", len(got))
	}
}

// An account created 100 ms before its customer's event is in that event's
// fan-out, every time.
func TestDispatchOrdering(t *testing.T) {
	t.Parallel()
	rounds := 50
	if long() {
		rounds = 1000
	}
	c := startPCluster(t, 4)
	c.runInProcess(t)
	for i := 0; i < rounds; i++ {
		cust := int64(10_000 + i)
		c.send(directory.TopicAccounts, "i_account", accountNew(cust*10, cust, 1))
		time.Sleep(100 * time.Millisecond)
		c.send(dispatch.TopicCustomer, "i_customer", customerEvent(fmt.Sprintf("ord-%d", i), "Customer/Status/Suspend", cust))
	}
	exp := newExpect()
	for i := 0; i < rounds; i++ {
		c.expectInherited(exp, fmt.Sprintf("ord-%d", i), "Customer/Status/Suspend", int64(10_000+i)*10)
	}
	got := c.readInherited(rounds, 2*time.Second, 120*time.Second)
	seen := map[string]bool{}
	for _, e := range got {
		if *e.ev.IAccount != *e.ev.ICustomer*10 {
			t.Errorf("event %s went to account %d", e.ev.EventID, *e.ev.IAccount)
		}
		seen[*e.ev.ParentEventID] = true
	}
	for i := 0; i < rounds; i++ {
		if !seen[fmt.Sprintf("ord-%d", i)] {
			t.Errorf("round %d: the account created 100 ms earlier is not in the fan-out", i)
		}
	}
	if res := checkEO(exp, got); !res.ok() {
		t.Errorf("fan-out not exactly once: %s", res)
	}
}
