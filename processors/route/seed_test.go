package route

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// seedFile is the verbatim copy of seed 000 kept beside the catalog. The
// expectations of the routing tests are read from it, not from catalog.yaml
// or the router, so a slip in either cannot hide behind itself.
const seedFile = "../../topology/testdata/seeds/000_092b1d25fc96baad.txt"

type seedRow struct {
	handler, event string
	inherited      bool
}

// parseSeed000 reads the ESPF handler tables: a "<Handler> handler events"
// line, four header lines, then per row a name line ending in " |",
// description lines up to one ending in "|", and a "Y |" or "|" flag line.
func parseSeed000(t testing.TB) (handlers []string, rows []seedRow) {
	t.Helper()
	data, err := os.ReadFile(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	var handler string
	for i := 0; i < len(lines); {
		line := strings.TrimRight(lines[i], " \r")
		switch {
		case strings.HasSuffix(line, " handler events"):
			handler = strings.TrimSuffix(line, " handler events")
			handlers = append(handlers, handler)
			i += 5
			continue
		case line == "":
			i++
			continue
		}
		if !strings.HasSuffix(line, " |") {
			t.Fatalf("seed 000 line %d: want an event name cell, got %q", i+1, line)
		}
		name := strings.TrimSuffix(line, " |")
		j := i + 1
		for !strings.HasSuffix(strings.TrimRight(lines[j], " \r"), "|") {
			j++
		}
		flag := strings.TrimSpace(lines[j+1])
		if flag != "Y |" && flag != "|" {
			t.Fatalf("seed 000 line %d: want a flag cell, got %q", j+2, flag)
		}
		rows = append(rows, seedRow{handler: handler, event: name, inherited: flag == "Y |"})
		i = j + 2
	}
	if len(handlers) != 20 || len(rows) != 275 {
		t.Fatalf("seed parse: %d handlers, %d rows; want 20, 275", len(handlers), len(rows))
	}
	return handlers, rows
}

// seedProcessors are the seed's handlers that are processors, not topics
// (design §3).
var seedProcessors = map[string]bool{"CustomerToAccountsDispatcher": true, "ProductToAccountsDispatcher": true}

// seedCase is one (event spelling, origin) to route, with the set of
// handler topics the seed says must receive it.
type seedCase struct {
	event  string
	origin string
	want   map[string]bool // handler topic → true
}

// seedCases builds, for every event spelling in seed 000 and both origins,
// the handler topics that must receive it: DIRECT to every (non-processor)
// handler whose table lists the type, INHERITED to those whose row is "Y".
// The catalog is used only to tell which spellings name the same type.
func seedCases(t testing.TB, c *topology.Catalog) []seedCase {
	_, rows := parseSeed000(t)
	canon := func(name string) string {
		et, ok := c.Lookup(name)
		if !ok {
			t.Fatalf("seed type %q does not resolve in the catalog", name)
		}
		return et.Name
	}
	direct, inherited := map[string]map[string]bool{}, map[string]map[string]bool{}
	add := func(m map[string]map[string]bool, typ, topic string) {
		if m[typ] == nil {
			m[typ] = map[string]bool{}
		}
		m[typ][topic] = true
	}
	spellings := map[string]bool{}
	for _, r := range rows {
		spellings[r.event] = true
		if seedProcessors[r.handler] {
			continue
		}
		typ := canon(r.event)
		add(direct, typ, topology.HandlerTopic(r.handler))
		if r.inherited {
			add(inherited, typ, topology.HandlerTopic(r.handler))
		}
	}
	var out []seedCase
	for s := range spellings {
		typ := canon(s)
		out = append(out,
			seedCase{event: s, origin: schemas.OriginDirect, want: direct[typ]},
			seedCase{event: s, origin: schemas.OriginInherited, want: inherited[typ]})
	}
	return out
}

// testEvent returns an event of the given type and origin carrying every
// PortaBilling id, so any domain can key it.
func testEvent(id, typ, origin string) *schemas.Event {
	n := int64(42)
	did := "3312345678"
	ev := &schemas.Event{
		EventID: id, Source: "portabilling", EventType: typ, Origin: origin,
		OccurredAt: time.UnixMilli(1_700_000_000_000).UTC(), ReceivedAt: time.UnixMilli(1_700_000_000_000).UTC(),
		IEnv: &n, ICustomer: &n, IAccount: &n, IProduct: &n, IDID: &n, DIDNumber: &did,
		IInvoice: &n, IPaymentTransaction: &n, IVendor: &n, IConnection: &n,
		Attributes: map[string]string{}, Payload: "{}",
	}
	if origin == schemas.OriginInherited {
		parent, from := "parent-"+id, schemas.InheritedFromCustomer
		ev.ParentEventID, ev.InheritedFrom = &parent, &from
	}
	return ev
}
