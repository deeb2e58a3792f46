package topology

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadOverride(t *testing.T) {
	c, err := Load("testdata/override.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// A new type, domain inferred from the account domain's patterns.
	et, ok := c.Lookup("Account/Roaming/Entered")
	if !ok || et.Name != "Account/Custom/Roaming/Entered" || et.Topic != "portabilling.account" {
		t.Fatalf("new type = %+v, %v", et, ok)
	}
	// An alias added to a built-in type.
	if et, ok := c.Lookup("account/status/terminated"); !ok || et.Name != "Account/Status/Closed" {
		t.Errorf("added alias = %+v, %v", et, ok)
	}
	// The glob reaches every UK type, at any depth, and nothing in FR.
	desk, ok := c.Handler("uk porting desk")
	if !ok || desk.Topic != "handler.uk-porting-desk" {
		t.Fatalf("UK Porting Desk = %+v, %v", desk, ok)
	}
	if len(desk.Subscriptions) != 18 {
		t.Errorf("UK Porting Desk has %d subscriptions, want 18", len(desk.Subscriptions))
	}
	for _, s := range desk.Subscriptions {
		if !strings.HasPrefix(s.EventType, "CONNECTIVITY-MANAGEMENT/PORTABILITY/UK/") || s.Inherited {
			t.Errorf("UK Porting Desk subscribed to %+v", s)
		}
	}
	// An inherited glob only flags the types some rule can produce.
	acme, _ := c.Handler("Acme::HSS")
	for _, s := range acme.Subscriptions {
		_, inheritable := map[string]bool{"Account/Status/Changed": true, "Account/Status/Closed": true,
			"Account/Status/Exported": true, "Account/Status/Imported": true, "Account/Status/Suspend": true,
			"Account/Status/Unsuspend": true}[s.EventType]
		if s.Inherited != inheritable {
			t.Errorf("Acme::HSS %+v", s)
		}
	}
	if got := names(c.Subscribers("Account/Status/Suspended", OriginInherited)); !contains(got, "Acme::HSS") {
		t.Errorf("inherited suspend subscribers %v lack Acme::HSS", got)
	}
	// Unsubscribe, then subscribe again: IPTV keeps Closed, but direct only.
	if got := names(c.Subscribers("Account/Blocked", OriginDirect)); contains(got, "IPTV") {
		t.Errorf("IPTV still receives Account/Blocked")
	}
	if !containsHandler(c.Subscribers("Account/Status/Closed", OriginDirect), mustHandler(t, c, "IPTV")) ||
		containsHandler(c.Subscribers("Account/Status/Closed", OriginInherited), mustHandler(t, c, "IPTV")) {
		t.Error("IPTV should receive Account/Status/Closed direct only")
	}
	if _, ok := c.Handler("Jasper"); ok {
		t.Error("Jasper not removed")
	}
	// The built-in catalog is untouched by an override load.
	if d := mustDefault(t); len(d.Handlers()) != 25 {
		t.Errorf("default catalog changed: %d handlers", len(d.Handlers()))
	}
}

func mustHandler(t *testing.T, c *Catalog, name string) *Handler {
	t.Helper()
	h, ok := c.Handler(name)
	if !ok {
		t.Fatalf("no handler %q", name)
	}
	return h
}

func TestLoadOverrideErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown type", "handlers:\n  - name: Foo\n    subscriptions:\n      - Account/New\n      - Acount/New\n",
			[]string{`override.yaml:5: handler "Foo": unknown event type "Acount/New"`}},
		{"unknown keys", "handlers:\n  - name: Foo\n    subscribtions: [Account/New]\nevent_typs: []\n",
			[]string{`override.yaml:3: handler: unknown key "subscribtions"`, `override.yaml:4: catalog: unknown key "event_typs"`}},
		{"empty glob", "handlers:\n  - name: Foo\n    subscriptions:\n      - CONNECTIVITY-MANAGEMENT/PORTABILITY/DE/*\n",
			[]string{`override.yaml:4: handler "Foo": "CONNECTIVITY-MANAGEMENT/PORTABILITY/DE/*" matches no event type`}},
		{"not inheritable", "handlers:\n  - name: Foo\n    subscriptions:\n      - {event: Account/New, inherited: true}\n",
			[]string{`override.yaml:4: handler "Foo": "Account/New" cannot be inherited`}},
		{"bad source and domain", "event_types:\n  - name: X/Y\n    source: sap\n  - name: Thing/Happened\n    source: portabilling\n",
			[]string{`override.yaml:2: event type "X/Y": unknown source "sap"`, `override.yaml:4: event type "Thing/Happened": no portabilling domain matches it`}},
		{"alias clash", "event_types:\n  - name: Account/Gone\n    source: portabilling\n    aliases: [Account/Id/Changed]\n",
			[]string{`override.yaml:2: event type "Account/Gone": alias "Account/Id/Changed" already names "Account/ID/Changed"`}},
		{"moves type", "event_types:\n  - name: Account/New\n    source: transatel\n",
			[]string{`override.yaml:2: event type "Account/New": already defined as portabilling/account`}},
		{"not subscribed", "handlers:\n  - name: NetNumber\n    unsubscribe: [Account/Blocked]\n",
			[]string{`override.yaml:3: handler "NetNumber": not subscribed to "Account/Blocked"`}},
		{"remove unknown and processor", "handlers:\n  - name: Nobody\n    remove: true\n  - name: ProductToAccountsDispatcher\n    remove: true\n",
			[]string{`override.yaml:2: handler "Nobody": cannot remove an unknown handler`, `override.yaml:4: handler "ProductToAccountsDispatcher": cannot remove a processor`}},
		{"bad rule", "inheritance:\n  - {from: Customer/New, to: Account/New, via: IPTV, kind: CUSTOMER}\n",
			[]string{`override.yaml:2: inheritance "Customer/New" -> "Account/New": via "IPTV" is not a processor handler`}},
		{"bad bool", "handlers:\n  - name: Foo\n    example: maybe\n",
			[]string{`override.yaml:3: expected true or false, got "maybe"`}},
		{"slug clash", "handlers:\n  - name: Huawei PCRF\n",
			[]string{`handlers "Huawei::PCRF" and "Huawei PCRF" share topic handler.huawei-pcrf`}},
		{"version", "version: 2\n", []string{`override.yaml:1: unsupported catalog version "2"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "override.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadOverrideMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v", err)
	}
}

func TestLoadEmptyOverride(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(path, []byte("# nothing yet\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(names(c.Handlers()), names(mustDefault(t).Handlers())) {
		t.Error("empty override changed the handlers")
	}
}
