package topology

import (
	"github.com/provbus/provbus/internal/seedtable"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The seeds in testdata/seeds are verbatim copies of the source documents.
// These tests parse them independently of catalog.yaml, so a transcription
// slip in the YAML cannot hide behind the same slip in a generator.

// parseSeed000 reads seed 000's tables with internal/seedtable, which knows
// nothing of the catalog.
func parseSeed000(t testing.TB) ([]string, []seedtable.Row) {
	t.Helper()
	handlers, rows, err := seedtable.ReadFile("testdata/seeds/000_092b1d25fc96baad.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(handlers) != 20 || len(rows) != 275 {
		t.Fatalf("seed parse: %d handlers, %d rows; want 20, 275", len(handlers), len(rows))
	}
	return handlers, rows
}

func TestSeed000EveryRow(t *testing.T) {
	c := mustDefault(t)
	handlers, want := parseSeed000(t)
	if len(handlers) != 20 || len(want) != 275 {
		t.Fatalf("seed parse: %d handlers, %d rows; want 20, 275", len(handlers), len(want))
	}
	var got []seedtable.Row
	for _, r := range c.Rows() {
		if h, _ := c.Handler(r.Handler); !h.Example {
			got = append(got, seedtable.Row{Handler: r.Handler, EventType: r.EventType, Inherited: r.Inherited})
		}
	}
	if len(got) != len(want) {
		t.Fatalf("catalog has %d seed rows, seed has %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: catalog %+v, seed %+v", i, got[i], want[i])
		}
	}
	for _, w := range want {
		et, ok := c.Lookup(w.EventType)
		if !ok {
			t.Errorf("%s: seed type %q does not resolve", w.Handler, w.EventType)
			continue
		}
		h, ok := c.Handler(w.Handler)
		if !ok {
			t.Fatalf("handler %q missing", w.Handler)
		}
		if !hasSub(h, Subscription{EventType: et.Name, Inherited: w.Inherited}) {
			t.Errorf("%s: no subscription %s inherited=%v", w.Handler, et.Name, w.Inherited)
		}
		for _, via := range []Origin{OriginDirect, OriginInherited} {
			receives := containsHandler(c.Subscribers(w.EventType, via), h)
			wantRecv := !h.Processor && (via == OriginDirect || w.Inherited)
			if receives != wantRecv {
				t.Errorf("Subscribers(%q, %s) has %s = %v, want %v", w.EventType, via, h.Name, receives, wantRecv)
			}
		}
	}
	for _, name := range handlers {
		h, ok := c.Handler(name)
		if !ok {
			t.Errorf("handler %q missing", name)
			continue
		}
		proc := name == "CustomerToAccountsDispatcher" || name == "ProductToAccountsDispatcher"
		if h.Processor != proc || (h.Topic == "") != proc || h.Example {
			t.Errorf("%s: processor=%v topic=%q example=%v", name, h.Processor, h.Topic, h.Example)
		}
	}
}

func TestSeed001Transatel(t *testing.T) {
	c := mustDefault(t)
	data, err := os.ReadFile("testdata/seeds/001_ea637dbcd6548540.txt")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^Event type definition(\S+)\s*\nApplicable for(.*)$`)
	found := re.FindAllStringSubmatch(string(data), -1)
	if len(found) != 39 {
		t.Fatalf("seed 001 has %d event types, want 39", len(found))
	}
	for _, m := range found {
		name, applies := m[1], strings.TrimSpace(strings.Trim(m[2], " `"))
		et, ok := c.Lookup(name)
		if !ok || et.Name != name || et.Source != SourceTransatel {
			t.Errorf("%s: Lookup = %+v, %v", name, et, ok)
			continue
		}
		if et.AppliesTo != applies || et.Description == "" {
			t.Errorf("%s: applies_to %q (want %q), description %q", name, et.AppliesTo, applies, et.Description)
		}
		wantDomain := "subscriber"
		if strings.HasPrefix(name, "CONNECTIVITY-MANAGEMENT/PORTABILITY/") {
			wantDomain = "portability"
		}
		if et.Domain != wantDomain || et.Topic != "transatel."+wantDomain {
			t.Errorf("%s: domain %s topic %s", name, et.Domain, et.Topic)
		}
	}
	if n := countSource(c, SourceTransatel); n != 39 {
		t.Errorf("catalog has %d transatel types, want 39", n)
	}
}

func TestSeed002JeraSoft(t *testing.T) {
	c := mustDefault(t)
	data, err := os.ReadFile("testdata/seeds/002_bc2ba55c3ccfecfb.txt")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^\s*((?:clients|dids|email_rates_manager|importd|accounting)\.[a-z_.]+)`)
	domains := map[string]string{"clients": "client", "dids": "did", "accounting": "accounting",
		"email_rates_manager": "system", "importd": "system"}
	seen := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		name := m[1]
		seen[name] = true
		et, ok := c.Lookup(name)
		if !ok || et.Name != name || et.Source != SourceJeraSoft || et.Description == "" {
			t.Errorf("%s: Lookup = %+v, %v", name, et, ok)
			continue
		}
		if want := domains[strings.SplitN(name, ".", 2)[0]]; et.Domain != want || et.Topic != "jerasoft."+want {
			t.Errorf("%s: domain %s topic %s, want %s", name, et.Domain, et.Topic, want)
		}
	}
	if len(seen) != 35 {
		t.Errorf("seed 002 has %d event types, want 35", len(seen))
	}
	if n := countSource(c, SourceJeraSoft); n != 35 {
		t.Errorf("catalog has %d jerasoft types, want 35", n)
	}
}

func mustDefault(t *testing.T) *Catalog {
	t.Helper()
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func hasSub(h *Handler, s Subscription) bool {
	for _, x := range h.Subscriptions {
		if x == s {
			return true
		}
	}
	return false
}

func containsHandler(hs []*Handler, h *Handler) bool {
	for _, x := range hs {
		if x == h {
			return true
		}
	}
	return false
}

func countSource(c *Catalog, s Source) int {
	n := 0
	for _, t := range c.EventTypes() {
		if t.Source == s {
			n++
		}
	}
	return n
}
