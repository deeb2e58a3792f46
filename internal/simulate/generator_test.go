package simulate

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/provbus/provbus/producers/jerasoft"
	"github.com/provbus/provbus/producers/portabilling"
	"github.com/provbus/provbus/producers/transatel"
	"github.com/provbus/provbus/topology"
)

func TestSameSeedSameSequence(t *testing.T) {
	a, b := New(Config{Seed: 7, Customers: 300}), New(Config{Seed: 7, Customers: 300})
	c := New(Config{Seed: 8, Customers: 300})
	differs := false
	for i := 0; i < 5000; i++ {
		ea, eb, ec := a.Next(), b.Next(), c.Next()
		if ea.Source != eb.Source || ea.Type != eb.Type || !ea.At.Equal(eb.At) || !bytes.Equal(ea.Body, eb.Body) {
			t.Fatalf("event %d differs with the same seed:\n%s\n%s", i, ea.Body, eb.Body)
		}
		differs = differs || !bytes.Equal(ea.Body, ec.Body)
	}
	if !differs {
		t.Fatal("seeds 7 and 8 gave the same 5000 events")
	}
}

// TestEventsParseAndAreKnown checks every generated body with the source's
// own parser (the wire format is real) and that the catalog knows its type.
func TestEventsParseAndAreKnown(t *testing.T) {
	cat, err := topology.Default()
	if err != nil {
		t.Fatal(err)
	}
	parse := map[string]func([]byte, time.Time) error{
		PortaBilling: func(b []byte, at time.Time) error { _, err := portabilling.Parse(b, at); return err },
		Transatel:    func(b []byte, at time.Time) error { _, err := transatel.Parse(b, at); return err },
		JeraSoft:     func(b []byte, at time.Time) error { _, err := jerasoft.Parse(b, at); return err },
	}
	g := New(Config{Seed: 3, Customers: 200})
	seen := map[string]int{}
	for i := 0; i < 20000; i++ {
		ev := g.Next()
		if err := parse[ev.Source](ev.Body, ev.At); err != nil {
			t.Fatalf("%s %s does not parse: %v\n%s", ev.Source, ev.Type, err, ev.Body)
		}
		et, ok := cat.Lookup(ev.Type)
		if !ok || string(et.Source) != ev.Source {
			t.Fatalf("%s: type %q not in the catalog for that source", ev.Source, ev.Type)
		}
		seen[ev.Source]++
	}
	// The default mix is 70/20/10.
	for src, want := range map[string]float64{PortaBilling: 0.7, Transatel: 0.2, JeraSoft: 0.1} {
		if got := float64(seen[src]) / 20000; got < want-0.03 || got > want+0.03 {
			t.Errorf("%s share %.3f, want about %.2f", src, got, want)
		}
	}
}

// TestLifecycles replays the generated sequence and checks the orders the
// issue names: nothing about an account before its Account/New and
// nothing after Account/Status/Closed; nothing about a customer before
// Customer/New; Transatel subscribers activated only after PREACTIVATED;
// portability flows ending before a new one starts; JeraSoft accounts and
// subscriptions only for created clients.
func TestLifecycles(t *testing.T) {
	g := New(Config{Seed: 11, Customers: 150})
	accounts := map[float64]string{} // i_account → last state event
	customers := map[float64]bool{}
	sims := map[string]string{}
	clients := map[float64]bool{}
	for i := 0; i < 30000; i++ {
		ev := g.Next()
		var m map[string]any
		if err := json.Unmarshal(ev.Body, &m); err != nil {
			t.Fatal(err)
		}
		switch ev.Source {
		case PortaBilling:
			v := m["variables"].(map[string]any)
			if cu, ok := v["i_customer"].(float64); ok {
				if ev.Type == "Customer/New" {
					customers[cu] = true
				} else if !customers[cu] {
					t.Fatalf("%s for customer %v before Customer/New", ev.Type, cu)
				}
			}
			acc, ok := v["i_account"].(float64)
			if !ok || strings.HasPrefix(ev.Type, "DID/") {
				continue
			}
			last, known := accounts[acc]
			switch {
			case ev.Type == "Account/New" && known:
				t.Fatalf("account %v created twice", acc)
			case ev.Type != "Account/New" && !known:
				t.Fatalf("%s for account %v before Account/New", ev.Type, acc)
			case last == "Account/Status/Closed":
				t.Fatalf("%s for closed account %v", ev.Type, acc)
			case ev.Type == "Account/Unblocked" && last != "Account/Blocked":
				t.Fatalf("account %v unblocked while %q", acc, last)
			}
			if ev.Type != "Account/BalanceChanged" {
				accounts[acc] = ev.Type
			}
		case Transatel:
			h, b := m["header"].(map[string]any), m["body"].(map[string]any)
			msisdn := b["msisdn"].(string)
			typ := strings.TrimPrefix(h["eventType"].(string), "CONNECTIVITY-MANAGEMENT/SUBSCRIBER/")
			prev := sims[msisdn]
			if typ == "ACTIVATED" && prev != "PREACTIVATED" {
				t.Fatalf("SIM %s ACTIVATED after %q", msisdn, prev)
			}
			if typ == "REACTIVATED" && prev != "SUSPENDED" {
				t.Fatalf("SIM %s REACTIVATED after %q", msisdn, prev)
			}
			if !strings.Contains(typ, "PORTABILITY") && !strings.Contains(typ, "HOLIDAY") && typ != "MODIFIED" {
				sims[msisdn] = typ
			}
		case JeraSoft:
			e := m["event"].(map[string]any)
			typ := e["events_id"].(string)
			if typ == "clients.create" {
				clients[e["object_id"].(float64)] = true
				continue
			}
			if d, ok := m["data"].(map[string]any); ok {
				if cl, ok := d["clients_id"].(float64); ok && !clients[cl] {
					t.Fatalf("%s for client %v before clients.create", typ, cl)
				}
			}
		}
	}
}

func TestAccountsPerCustomerSkewed(t *testing.T) {
	g := New(Config{Seed: 5, Customers: 5000})
	small, big := 0, 0
	for _, c := range g.pop.customers {
		switch n := len(c.accounts); {
		case n <= 5:
			small++
		case n >= 1000:
			big++
		}
	}
	if small < 4000 || big == 0 {
		t.Fatalf("%d of 5000 customers with 1–5 accounts, %d with ≥ 1000: want most small and a few huge", small, big)
	}
}
