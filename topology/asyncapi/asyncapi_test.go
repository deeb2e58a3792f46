package asyncapi

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// specSchemaID is the $id of the official AsyncAPI 3.0.0 JSON Schema in
// testdata (see testdata/README.md); every definition it references is
// bundled in that one file.
const specSchemaID = "http://asyncapi.com/definitions/3.0.0/asyncapi.json"

var compileSpec = sync.OnceValues(func() (*jsonschema.Schema, error) {
	f, err := os.Open("testdata/asyncapi-3.0.0.schema.json")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(specSchemaID, doc); err != nil {
		return nil, err
	}
	return c.Compile(specSchemaID)
})

// validate checks raw against the official AsyncAPI 3.0.0 schema.
func validate(t *testing.T, raw []byte) error {
	t.Helper()
	sch, err := compileSpec()
	if err != nil {
		t.Fatalf("compile AsyncAPI schema: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("document is not JSON: %v", err)
	}
	return sch.Validate(inst)
}

var layoutOpts = topology.LayoutOptions{Partitions: 12, ReplicationFactor: 3, MinInsyncReplicas: 2, HandlerRetention: 7 * 24 * time.Hour}

func build(t *testing.T, cat *topology.Catalog, o Options) []byte {
	t.Helper()
	doc, err := Build(cat, cat.Layout(layoutOpts), o)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	raw, err := doc.JSON()
	if err != nil {
		t.Fatalf("JSON: %v", err)
	}
	return raw
}

func defaultCatalog(t *testing.T) *topology.Catalog {
	t.Helper()
	cat, err := topology.Default()
	if err != nil {
		t.Fatalf("catalog: %v", err)
	}
	return cat
}

func TestDocumentValidates(t *testing.T) {
	override, err := topology.Load("../testdata/override.yaml")
	if err != nil {
		t.Fatalf("override catalog: %v", err)
	}
	cases := []struct {
		name string
		cat  *topology.Catalog
		o    Options
	}{
		{"no servers", defaultCatalog(t), Options{}},
		{"plain", defaultCatalog(t), Options{Brokers: []string{"kafka:9092"}, RegistryURL: "http://schema-registry:8081"}},
		{"tls and scram", defaultCatalog(t), Options{
			Brokers: []string{"b1:9093", "b2:9093"}, RegistryURL: "https://sr:8081",
			TLS: true, SASLMechanism: "SCRAM-SHA-512", ReplicationFactor: 3, APIVersion: "1.2.0",
		}},
		{"override catalog", override, Options{Brokers: []string{"kafka:9092"}, SASLMechanism: "PLAIN"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := validate(t, build(t, tc.cat, tc.o)); err != nil {
				t.Fatalf("document does not validate against AsyncAPI 3.0.0:\n%v", err)
			}
		})
	}
}

// TestInvalidDocumentsFail proves the validation can fail: each mutation
// of a valid document breaks one rule of the AsyncAPI schema.
func TestInvalidDocumentsFail(t *testing.T) {
	good := build(t, defaultCatalog(t), Options{Brokers: []string{"kafka:9092"}, RegistryURL: "http://sr:8081"})
	mutations := map[string]func(doc map[string]any){
		"info without version":   func(doc map[string]any) { delete(obj(doc, "info"), "version") },
		"wrong asyncapi version": func(doc map[string]any) { doc["asyncapi"] = "3.9.9" },
		"operation with bad action": func(doc map[string]any) {
			obj(doc, "operations", "ingest.portabilling.account")["action"] = "publish"
		},
		"server without protocol": func(doc map[string]any) { delete(obj(doc, "servers", "kafka"), "protocol") },
		"zero partitions": func(doc map[string]any) {
			obj(doc, "channels", "portabilling.account", "bindings", "kafka")["partitions"] = 0
		},
		"cleanup.policy not a list": func(doc map[string]any) {
			obj(doc, "channels", "portabilling.account", "bindings", "kafka", "topicConfiguration")["cleanup.policy"] = "delete"
		},
		"invalid Avro schema": func(doc map[string]any) {
			obj(doc, "components", "schemas", "portabilling.account-value", "schema")["type"] = "struct"
		},
		"unknown top-level field": func(doc map[string]any) { doc["topics"] = []any{} },
	}
	for name, mutate := range mutations {
		t.Run(name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(good, &doc); err != nil {
				t.Fatal(err)
			}
			mutate(doc)
			raw, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			err = validate(t, raw)
			if err == nil {
				t.Fatal("an invalid document validated")
			}
			t.Logf("rejected: %.300s", err)
		})
	}
}

// obj walks doc along path; it fails the test's assumptions loudly with a
// panic if the generator's shape changed.
func obj(doc map[string]any, path ...string) map[string]any {
	cur := doc
	for _, p := range path {
		next, ok := cur[p].(map[string]any)
		if !ok {
			panic("no object at " + strings.Join(path, "/"))
		}
		cur = next
	}
	return cur
}

func TestDocumentContent(t *testing.T) {
	cat := defaultCatalog(t)
	specs := cat.Layout(layoutOpts)
	doc, err := Build(cat, specs, Options{Brokers: []string{"kafka:9092"}, RegistryURL: "http://sr:8081", ReplicationFactor: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Channels) != len(specs) {
		t.Errorf("%d channels for %d topics", len(doc.Channels), len(specs))
	}
	for _, s := range specs {
		ch, ok := doc.Channels[s.Name]
		if !ok {
			t.Errorf("topic %s has no channel", s.Name)
			continue
		}
		if ch.Bindings.Kafka.Partitions != s.Partitions || ch.Bindings.Kafka.Replicas != 3 || ch.Address != s.Name {
			t.Errorf("channel %s: binding %+v", s.Name, ch.Bindings.Kafka)
		}
		if !s.Avro {
			continue
		}
		var payload MultiFormatSchema
		if err := json.Unmarshal(doc.Components.Schemas[s.Name+"-value"], &payload); err != nil {
			t.Fatalf("%s payload: %v", s.Name, err)
		}
		want, err := schemas.ValueSchema(s.Logical)
		if err != nil {
			t.Fatal(err)
		}
		if payload.SchemaFormat != AvroFormat || !jsonEqual(t, payload.Schema, []byte(want)) {
			t.Errorf("%s: payload is not the registered Avro schema", s.Name)
		}
	}

	msg := doc.Components.Messages["portabilling.customer"]
	if !strings.Contains(msg.Bindings.Kafka.Key.Description, "i_customer") {
		t.Errorf("customer key: %q", msg.Bindings.Kafka.Key.Description)
	}
	for _, et := range cat.EventTypes() {
		if et.Topic == "portabilling.customer" && !strings.Contains(doc.Channels[et.Topic].Description, "`"+et.Name+"`") {
			t.Errorf("portabilling.customer description lacks %s", et.Name)
		}
	}

	iptv := doc.Components.Messages["handler.iptv"]
	if !hasOrigin(iptv.EventTypes, "Account/Status/Closed", "INHERITED") {
		t.Errorf("handler.iptv: Account/Status/Closed should be received INHERITED: %+v", iptv.EventTypes)
	}
	if hasOrigin(doc.Components.Messages["handler.netnumber"].EventTypes, "Account/Status/Closed", "INHERITED") {
		t.Error("handler.netnumber: Account/Status/Closed must not be INHERITED")
	}
	if !strings.Contains(doc.Channels[topology.TopicAccountInherited].Description, "CustomerToAccountsDispatcher") {
		t.Error("the derived topic does not list the inheritance rules")
	}
}

func hasOrigin(ts []EventType, name, origin string) bool {
	for _, t := range ts {
		if t.Name == name {
			for _, o := range t.Origins {
				if o == origin {
					return true
				}
			}
		}
	}
	return false
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

func TestBuildErrors(t *testing.T) {
	cat := defaultCatalog(t)
	if _, err := Build(cat, nil, Options{}); err != ErrEmpty {
		t.Errorf("empty layout: %v", err)
	}
	if _, err := Build(cat, cat.Layout(layoutOpts), Options{Brokers: []string{"k:9092"}, SASLMechanism: "GSSAPI"}); err == nil {
		t.Error("unknown SASL mechanism accepted")
	}
	specs := cat.Layout(layoutOpts)
	if _, err := Build(cat, append(specs, specs[0]), Options{}); err == nil {
		t.Error("duplicate topic accepted")
	}
}
