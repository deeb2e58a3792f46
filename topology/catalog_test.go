package topology

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"testing"
)

// DESIGN §3: the inherited flag is per handler and per event type.
func TestSubscribersInheritedStatusClosed(t *testing.T) {
	c := mustDefault(t)
	inherited := names(c.Subscribers("Account/Status/Closed", OriginInherited))
	want := []string{"AudioCodes", "ECConnect", "EventSender", "IPTV", "Titan::HSS"}
	if !reflect.DeepEqual(inherited, want) {
		t.Errorf("INHERITED Account/Status/Closed reaches %v, want %v", inherited, want)
	}
	direct := names(c.Subscribers("Account/Status/Closed", OriginDirect))
	for _, h := range []string{"NetNumber", "Sandvine", "YateHSS", "ZXUN::HSS", "ZXUN::SPR"} {
		if !contains(direct, h) {
			t.Errorf("DIRECT Account/Status/Closed should reach %s; got %v", h, direct)
		}
		if contains(inherited, h) {
			t.Errorf("INHERITED Account/Status/Closed must not reach %s", h)
		}
	}
}

func TestSubscribersEdgeCases(t *testing.T) {
	c := mustDefault(t)
	if got := c.Subscribers("No/Such/Type", OriginDirect); got != nil {
		t.Errorf("unknown type: %v", names(got))
	}
	if got := c.Subscribers("Account/New", Origin("SIDEWAYS")); got != nil {
		t.Errorf("unknown origin: %v", names(got))
	}
	// Processors read domain topics themselves; the router must not send
	// them anything.
	for _, h := range c.Subscribers("Customer/Status/Closed", OriginDirect) {
		if h.Processor || h.Topic == "" {
			t.Errorf("Subscribers returned processor %s", h.Name)
		}
	}
	// Globs in the example handlers are resolved at load time.
	if got := names(c.Subscribers("CONNECTIVITY-MANAGEMENT/PORTABILITY/UK/SWITCH_IN/DONE", OriginDirect)); !reflect.DeepEqual(got, []string{"PortabilityDesk"}) {
		t.Errorf("UK switch-in subscribers = %v", got)
	}
}

func TestInheritanceRules(t *testing.T) {
	c := mustDefault(t)
	if n := len(c.Inheritances()); n != 12 {
		t.Errorf("%d rules, want 12", n)
	}
	got := c.InheritedFrom("customer/ status/SUSPEND")
	want := []Inheritance{{From: "Customer/Status/Suspend", To: "Account/Status/Suspend", Via: "CustomerToAccountsDispatcher", Kind: "CUSTOMER"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("InheritedFrom(customer/ status/SUSPEND) = %+v", got)
	}
	got = c.InheritedFrom("Customer/AvailableFunds Appear")
	if len(got) != 1 || got[0].To != "Account/AvailableFundsAppear" {
		t.Errorf("InheritedFrom(alias) = %+v", got)
	}
	got = c.InheritedFrom("Product/ServiceAttribute/Changed")
	if len(got) != 1 || got[0].Via != "ProductToAccountsDispatcher" || got[0].Kind != "PRODUCT" {
		t.Errorf("product rule = %+v", got)
	}
	if got := c.InheritedFrom("Customer/New"); len(got) != 0 {
		t.Errorf("Customer/New is not inherited, got %+v", got)
	}
}

func TestLookupNames(t *testing.T) {
	c := mustDefault(t)
	for in, want := range map[string]string{
		"Account/ID/Changed":                           "Account/ID/Changed",
		"account/id/changed":                           "Account/ID/Changed",
		"Account/Id/Changed":                           "Account/ID/Changed",
		"Customer/AvailableFunds Appear":               "Customer/AvailableFundsAppear",
		" customer/availablefundsappear ":              "Customer/AvailableFundsAppear",
		"Customer/CustomField/ Changed":                "Customer/CustomField/Changed",
		"Account/Status/Suspended":                     "Account/Status/Suspend",
		"Account/Status/SuspensionRemoved":             "Account/Status/Unsuspend",
		"connectivity-management/subscriber/activated": "CONNECTIVITY-MANAGEMENT/SUBSCRIBER/ACTIVATED",
		"Clients.Accounts.Create":                      "clients.accounts.create",
	} {
		et, ok := c.Lookup(in)
		if !ok || et.Name != want {
			t.Errorf("Lookup(%q) = %v, %v; want %s", in, et, ok, want)
		}
	}
	if _, ok := c.Lookup("Account/Nope"); ok {
		t.Error("Lookup(Account/Nope) succeeded")
	}
	et, _ := c.Lookup("Account/ID/Changed")
	if !reflect.DeepEqual(et.Aliases, []string{"Account/Id/Changed"}) || et.Domain != "account" || et.Topic != "portabilling.account" {
		t.Errorf("Account/ID/Changed = %+v", et)
	}
}

func TestDomains(t *testing.T) {
	c := mustDefault(t)
	for typ, want := range map[string]Domain{
		"CustomField/Changed":        {"customer", SourcePortaBilling, "portabilling.customer", "i_customer"},
		"ServiceAttribute/Changed":   {"customer", SourcePortaBilling, "portabilling.customer", "i_customer"},
		"Subscriber/Name/Changed":    {"account", SourcePortaBilling, "portabilling.account", "i_account"},
		"Custom/Jasper/CapReached":   {"account", SourcePortaBilling, "portabilling.account", "i_account"},
		"Accessibility/Inserted":     {"product", SourcePortaBilling, "portabilling.product", "i_product"},
		"DID/Status/Moved":           {"did", SourcePortaBilling, "portabilling.did", "did_number"},
		"PaymentTransaction/New":     {"billing", SourcePortaBilling, "portabilling.billing", "i_customer"},
		"IPDeviceProfile/New":        {"system", SourcePortaBilling, "portabilling.system", "i_env"},
		"importd.process_failed":     {"system", SourceJeraSoft, "jerasoft.system", "object_id"},
		"accounting.payments.delete": {"accounting", SourceJeraSoft, "jerasoft.accounting", "object_id"},
	} {
		if got, ok := c.DomainOf(typ); !ok || got != want {
			t.Errorf("DomainOf(%s) = %+v, %v; want %+v", typ, got, ok, want)
		}
	}
	if len(c.Domains()) != 12 {
		t.Errorf("%d domains, want 12", len(c.Domains()))
	}
	if d := c.Derived(); len(d) != 1 || d[0].Topic != TopicAccountInherited || d[0].Key != "i_account" {
		t.Errorf("Derived() = %+v", d)
	}
	for _, et := range c.EventTypes() {
		if et.Domain == "" || et.Topic == "" || et.Description == "" {
			t.Errorf("%s: incomplete %+v", et.Name, et)
		}
	}
}

func TestOrdering(t *testing.T) {
	c := mustDefault(t)
	ts := c.EventTypes()
	if !sort.SliceIsSorted(ts, func(i, j int) bool {
		return ts[i].Source < ts[j].Source || (ts[i].Source == ts[j].Source && ts[i].Name < ts[j].Name)
	}) {
		t.Error("EventTypes not sorted by source, name")
	}
	hs := c.Handlers()
	if !sort.SliceIsSorted(hs, func(i, j int) bool { return hs[i].Name < hs[j].Name }) || len(hs) != 25 {
		t.Errorf("Handlers: %d, sorted=%v", len(hs), names(hs))
	}
	if h, ok := c.Handler("huawei::pcrf"); !ok || h.Topic != "handler.huawei-pcrf" {
		t.Errorf("Handler(huawei::pcrf) = %+v, %v", h, ok)
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Huawei::PCRF":  "huawei-pcrf",
		"AricentHSS":    "aricenthss",
		"IPTV":          "iptv",
		"Titan::HSS":    "titan-hss",
		"ZXUN::SPR":     "zxun-spr",
		"My  Big--HSS!": "my-big-hss",
		"::Lead::":      "lead",
		"Ünïcode HSS":   "n-code-hss",
		"A_B.C":         "a-b-c",
	} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
	if got := HandlerTopic("Huawei::PCRF"); got != "handler.huawei-pcrf" {
		t.Errorf("HandlerTopic = %q", got)
	}
}

// The JSON shape is a contract for scripts: exactly these keys.
func TestJSONShape(t *testing.T) {
	c := mustDefault(t)
	var buf bytes.Buffer
	if err := c.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc map[string][]map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if got := keys(doc); !reflect.DeepEqual(got, []string{"event_types", "handlers", "inheritance"}) {
		t.Fatalf("top-level keys %v", got)
	}
	wantKeys := map[string][]string{
		"handlers":    {"name", "subscriptions", "topic"},
		"event_types": {"aliases", "description", "domain", "name", "source", "topic"},
		"inheritance": {"from", "to", "via"},
	}
	for section, want := range wantKeys {
		for _, obj := range doc[section] {
			if got := keys(obj); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s keys %v, want %v", section, got, want)
			}
		}
	}
	for _, h := range doc["handlers"] {
		for _, s := range h["subscriptions"].([]any) {
			if got := keys(s.(map[string]any)); !reflect.DeepEqual(got, []string{"event_type", "inherited"}) {
				t.Fatalf("subscription keys %v", got)
			}
		}
	}
	for _, et := range doc["event_types"] {
		if _, ok := et["aliases"].([]any); !ok {
			t.Fatalf("%v: aliases must be a list, got %T", et["name"], et["aliases"])
		}
	}
	if len(doc["handlers"]) != 25 || len(doc["event_types"]) != 155 || len(doc["inheritance"]) != 12 {
		t.Errorf("sizes %d %d %d", len(doc["handlers"]), len(doc["event_types"]), len(doc["inheritance"]))
	}
}

// docs/catalog.md is generated; a change to catalog.yaml or the renderer
// must come with the regenerated page.
func TestDocsUpToDate(t *testing.T) {
	c := mustDefault(t)
	var buf bytes.Buffer
	if err := c.WriteMarkdown(&buf); err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile("../docs/catalog.md")
	if err != nil {
		t.Fatalf("%v; generate it with: go generate ./topology", err)
	}
	if !bytes.Equal(have, buf.Bytes()) {
		t.Fatal("docs/catalog.md is stale; regenerate it with: go generate ./topology")
	}
}

func names(hs []*Handler) []string {
	out := []string{}
	for _, h := range hs {
		out = append(out, h.Name)
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func BenchmarkSubscribers(b *testing.B) {
	c, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"Account/Status/Closed", "account/status/closed"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if len(c.Subscribers(name, OriginInherited)) == 0 {
					b.Fatal("no subscribers")
				}
			}
		})
	}
}
