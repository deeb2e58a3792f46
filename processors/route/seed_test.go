package route

import (
	"github.com/provbus/provbus/internal/seedtable"
	"testing"
	"time"

	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// seedFile is the verbatim copy of seed 000 kept beside the catalog. The
// expectations of the routing tests are read from it, not from catalog.yaml
// or the router, so a slip in either cannot hide behind itself.
const seedFile = "../../topology/testdata/seeds/000_092b1d25fc96baad.txt"

// parseSeed000 reads seed 000's tables with internal/seedtable, which knows
// nothing of the catalog.
func parseSeed000(t testing.TB) ([]string, []seedtable.Row) {
	t.Helper()
	handlers, rows, err := seedtable.ReadFile(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(handlers) != 20 || len(rows) != 275 {
		t.Fatalf("seed parse: %d handlers, %d rows; want 20, 275", len(handlers), len(rows))
	}
	return handlers, rows
}

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
		spellings[r.EventType] = true
		if seedtable.Processors[r.Handler] {
			continue
		}
		typ := canon(r.EventType)
		add(direct, typ, topology.HandlerTopic(r.Handler))
		if r.Inherited {
			add(inherited, typ, topology.HandlerTopic(r.Handler))
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
