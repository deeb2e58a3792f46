// Package registrytest holds the conformance table of provbus's Schema
// Registry: Confluent Schema Registry's answers, endpoint by endpoint, and a
// walker that checks a registry against them over HTTP. The registry's unit
// test and the conformance suite against a running `provbus dev` both walk
// it, so the two cannot drift apart.
package registrytest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Avro schemas the table registers: v1, then a compatible evolution
// (optional imsi), and schemas that break it in known ways.
const (
	SubV1 = `{"type":"record","name":"Subscriber","namespace":"provbus.test","fields":[
		{"name":"id","type":"string"},
		{"name":"msisdn","type":"string"}]}`
	SubOptionalIMSI = `{"type":"record","name":"Subscriber","namespace":"provbus.test","fields":[
		{"name":"id","type":"string"},
		{"name":"msisdn","type":"string"},
		{"name":"imsi","type":["null","string"],"default":null}]}`
	SubRequiredICCID = `{"type":"record","name":"Subscriber","namespace":"provbus.test","fields":[
		{"name":"id","type":"string"},
		{"name":"msisdn","type":"string"},
		{"name":"iccid","type":"string"}]}`
	SubNoMSISDN = `{"type":"record","name":"Subscriber","namespace":"provbus.test","fields":[
		{"name":"id","type":"string"}]}`
	SubIMSIRequired = `{"type":"record","name":"Subscriber","namespace":"provbus.test","fields":[
		{"name":"id","type":"string"},
		{"name":"msisdn","type":"string"},
		{"name":"imsi","type":"string"}]}`
)

// Step is one request and Confluent's answer to it: the status,
// the error_code of an error body, and for a success the body (compared
// as JSON) when want is set.
type Step struct {
	Method, Path, Body string
	Status             int
	Code               int    // error_code of an error answer
	Want               string // JSON body of a success, "" to skip
	Contains           string // substring of the body, "" to skip
}

func SchemaBody(s string) string {
	b, _ := json.Marshal(map[string]string{"schema": s})
	return string(b)
}

// ConfluentAPI is the conversation of the conformance table: each step's
// expectation is Confluent Schema Registry's (REST API reference and its
// rest/exceptions/Errors.java), in an order that walks a subject through
// config, mode, compatibility and the two-step deletes. Steps depend on
// the ones before them.
var ConfluentAPI = []Step{
	// Health checks and discovery.
	{Method: "GET", Path: "/", Status: 200, Want: `{}`},
	{Method: "GET", Path: "/schemas/types", Status: 200, Want: `["AVRO"]`},
	{Method: "GET", Path: "/no/such/path", Status: 404, Code: 404},
	{Method: "PATCH", Path: "/subjects", Status: 405, Code: 405},

	// Registration and reads.
	{Method: "POST", Path: "/subjects/a-value/versions", Body: SchemaBody(SubV1), Status: 200, Want: `{"id":1}`},
	{Method: "POST", Path: "/subjects/a-value/versions", Body: SchemaBody(SubOptionalIMSI), Status: 200, Want: `{"id":2}`},
	{Method: "POST", Path: "/subjects/a-value/versions", Body: `{"schema":"{\"type\":\"object\"}","schemaType":"JSON"}`, Status: 422, Code: 42201},
	{Method: "GET", Path: "/subjects", Status: 200, Want: `["a-value"]`},
	{Method: "GET", Path: "/subjects/a-value/versions", Status: 200, Want: `[1,2]`},
	{Method: "GET", Path: "/subjects/a-value/versions/abc", Status: 422, Code: 42202},
	{Method: "GET", Path: "/subjects/a-value/versions/0", Status: 422, Code: 42202},
	{Method: "GET", Path: "/subjects/a-value/versions/3", Status: 404, Code: 40402},
	{Method: "GET", Path: "/subjects/a-value/versions/latest", Status: 200, Contains: `"version":2`},
	{Method: "GET", Path: "/subjects/a-value/versions/-1", Status: 200, Contains: `"version":2`},
	{Method: "GET", Path: "/subjects/missing-value/versions/1", Status: 404, Code: 40401},
	{Method: "GET", Path: "/subjects/missing-value/versions", Status: 404, Code: 40401},
	{Method: "GET", Path: "/subjects/a-value/versions/1/schema", Status: 200, Want: SubV1},
	{Method: "GET", Path: "/schemas/ids/1/schema", Status: 200, Want: SubV1},
	{Method: "GET", Path: "/schemas/ids/99", Status: 404, Code: 40403},
	{Method: "POST", Path: "/subjects/a-value", Body: SchemaBody(SubV1), Status: 200, Contains: `"version":1`},
	{Method: "POST", Path: "/subjects/a-value", Body: SchemaBody(SubIMSIRequired), Status: 404, Code: 40403},
	{Method: "POST", Path: "/subjects/missing-value", Body: SchemaBody(SubV1), Status: 404, Code: 40401},

	// Compatibility level: global, subject-level, and no silent fallback.
	{Method: "GET", Path: "/config", Status: 200, Want: `{"compatibilityLevel":"BACKWARD_TRANSITIVE"}`},
	{Method: "GET", Path: "/config/a-value", Status: 404, Code: 40408},
	{Method: "GET", Path: "/config/missing-value", Status: 404, Code: 40408},
	{Method: "GET", Path: "/config/a-value?defaultToGlobal=true", Status: 200, Want: `{"compatibilityLevel":"BACKWARD_TRANSITIVE"}`},
	{Method: "PUT", Path: "/config/a-value", Body: `{"compatibility":"SIDEWAYS"}`, Status: 422, Code: 42203},
	{Method: "PUT", Path: "/config", Body: `{"compatibility":""}`, Status: 422, Code: 42203},
	{Method: "PUT", Path: "/config", Body: `not json`, Status: 422, Code: 42203},
	{Method: "PUT", Path: "/config/a-value", Body: `{"compatibility":"full"}`, Status: 200, Want: `{"compatibility":"FULL"}`},
	{Method: "GET", Path: "/config/a-value", Status: 200, Want: `{"compatibilityLevel":"FULL"}`},
	{Method: "DELETE", Path: "/config/a-value", Status: 200, Want: `{"compatibilityLevel":"FULL"}`},
	{Method: "DELETE", Path: "/config/a-value", Status: 404, Code: 40401},
	{Method: "PUT", Path: "/config", Body: `{"compatibility":"NONE"}`, Status: 200, Want: `{"compatibility":"NONE"}`},
	{Method: "DELETE", Path: "/config", Status: 200, Want: `{"compatibilityLevel":"NONE"}`},
	{Method: "GET", Path: "/config", Status: 200, Want: `{"compatibilityLevel":"BACKWARD_TRANSITIVE"}`},

	// Mode: subject-level, validated, enforced; IMPORT refused the Confluent way.
	{Method: "GET", Path: "/mode", Status: 200, Want: `{"mode":"READWRITE"}`},
	{Method: "GET", Path: "/mode/a-value", Status: 404, Code: 40409},
	{Method: "GET", Path: "/mode/a-value?defaultToGlobal=true", Status: 200, Want: `{"mode":"READWRITE"}`},
	{Method: "PUT", Path: "/mode/a-value", Body: `{"mode":"SIDEWAYS"}`, Status: 422, Code: 42204},
	{Method: "PUT", Path: "/mode/a-value", Body: `{"mode":"IMPORT"}`, Status: 422, Code: 42205},
	{Method: "PUT", Path: "/mode/a-value", Body: `{"mode":"READONLY"}`, Status: 200, Want: `{"mode":"READONLY"}`},
	{Method: "POST", Path: "/subjects/a-value/versions", Body: SchemaBody(SubNoMSISDN), Status: 422, Code: 42205},
	{Method: "DELETE", Path: "/subjects/a-value/versions/2", Status: 422, Code: 42205},
	{Method: "DELETE", Path: "/subjects/a-value", Status: 422, Code: 42205},
	{Method: "DELETE", Path: "/mode/a-value", Status: 200, Want: `{"mode":"READONLY"}`},

	// Compatibility checks: messages only with verbose.
	{Method: "POST", Path: "/compatibility/subjects/a-value/versions/latest", Body: SchemaBody(SubOptionalIMSI), Status: 200, Want: `{"is_compatible":true}`},
	{Method: "POST", Path: "/compatibility/subjects/a-value/versions", Body: SchemaBody(SubRequiredICCID), Status: 200, Want: `{"is_compatible":false}`},
	{Method: "POST", Path: "/compatibility/subjects/a-value/versions?verbose=true", Body: SchemaBody(SubRequiredICCID), Status: 200, Contains: `"messages":["`},
	{Method: "POST", Path: "/compatibility/subjects/a-value/versions/abc", Body: SchemaBody(SubV1), Status: 422, Code: 42202},
	{Method: "POST", Path: "/compatibility/subjects/a-value/versions/9", Body: SchemaBody(SubV1), Status: 404, Code: 40402},

	// Deleting a version: soft first, then permanent.
	{Method: "DELETE", Path: "/subjects/a-value/versions/abc", Status: 422, Code: 42202},
	{Method: "DELETE", Path: "/subjects/a-value/versions/2?permanent=true", Status: 404, Code: 40407},
	{Method: "DELETE", Path: "/subjects/a-value/versions/2", Status: 200, Want: `2`},
	{Method: "DELETE", Path: "/subjects/a-value/versions/2", Status: 404, Code: 40406},
	{Method: "GET", Path: "/subjects/a-value/versions", Status: 200, Want: `[1]`},
	{Method: "GET", Path: "/subjects/a-value/versions?deleted=true", Status: 200, Want: `[1,2]`},
	{Method: "GET", Path: "/subjects/a-value/versions?deletedOnly=true", Status: 200, Want: `[2]`},
	{Method: "GET", Path: "/subjects/a-value/versions/2", Status: 404, Code: 40402},
	{Method: "GET", Path: "/subjects/a-value/versions/2?deleted=true", Status: 200, Contains: `"version":2`},
	{Method: "DELETE", Path: "/subjects/a-value/versions/2?permanent=true", Status: 200, Want: `2`},
	{Method: "DELETE", Path: "/subjects/a-value/versions/2?permanent=true", Status: 404, Code: 40402},
	{Method: "DELETE", Path: "/subjects/missing-value/versions/1", Status: 404, Code: 40401},

	// A subject whose only version is soft-deleted is not listed.
	{Method: "POST", Path: "/subjects/b-value/versions", Body: SchemaBody(SubV1), Status: 200, Want: `{"id":1}`},
	{Method: "DELETE", Path: "/subjects/b-value/versions/1", Status: 200, Want: `1`},
	{Method: "GET", Path: "/subjects", Status: 200, Want: `["a-value"]`},
	{Method: "GET", Path: "/subjects?deleted=true", Status: 200, Want: `["a-value","b-value"]`},
	{Method: "GET", Path: "/subjects?deletedOnly=true", Status: 200, Want: `["b-value"]`},
	{Method: "GET", Path: "/subjects/b-value/versions", Status: 404, Code: 40401},
	{Method: "GET", Path: "/schemas/ids/1/versions", Status: 200, Want: `[{"subject":"a-value","version":1}]`},
	{Method: "GET", Path: "/schemas/ids/1/versions?deleted=true", Status: 200, Want: `[{"subject":"a-value","version":1},{"subject":"b-value","version":1}]`},
	{Method: "GET", Path: "/schemas/ids/1/subjects", Status: 200, Want: `["a-value"]`},
	{Method: "GET", Path: "/schemas/ids/1/subjects?deleted=true", Status: 200, Want: `["a-value","b-value"]`},

	// Deleting a subject: soft first, then permanent.
	{Method: "DELETE", Path: "/subjects/a-value?permanent=true", Status: 404, Code: 40405},
	{Method: "DELETE", Path: "/subjects/a-value", Status: 200, Want: `[1]`},
	{Method: "GET", Path: "/schemas/ids/1/versions", Status: 200, Want: `[]`},
	{Method: "DELETE", Path: "/subjects/a-value", Status: 404, Code: 40404},
	{Method: "POST", Path: "/subjects/a-value", Body: SchemaBody(SubV1), Status: 404, Code: 40401},
	{Method: "DELETE", Path: "/subjects/missing-value", Status: 404, Code: 40401},
	{Method: "DELETE", Path: "/subjects/b-value?permanent=true", Status: 200, Want: `[1]`},
	{Method: "GET", Path: "/subjects?deleted=true", Status: 200, Want: `["a-value"]`},
	// Registering again under a soft-deleted subject continues its numbering.
	{Method: "POST", Path: "/subjects/a-value/versions", Body: SchemaBody(SubV1), Status: 200, Want: `{"id":1}`},
	{Method: "GET", Path: "/subjects/a-value/versions", Status: 200, Want: `[3]`},
}

// Walk sends each step to the registry at baseURL in order and reports
// every answer that differs from Confluent's: status, Content-Type, the
// error body's shape and error_code, the success body. first numbers the
// steps in messages.
func Walk(t testing.TB, baseURL string, first int, steps []Step) {
	t.Helper()
	for i, st := range steps {
		check(t, baseURL, first+i, st)
	}
}

func check(t testing.TB, baseURL string, i int, st Step) {
	t.Helper()
	req, err := http.NewRequest(st.Method, baseURL+st.Path, strings.NewReader(st.Body))
	if err != nil {
		t.Fatal(err)
	}
	if st.Body != "" {
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("step %d %s %s: %v", i, st.Method, st.Path, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	what := st.Method + " " + st.Path
	if resp.StatusCode != st.Status {
		t.Errorf("step %d %s: status %d, want %d; body %s", i, what, resp.StatusCode, st.Status, bytes.TrimSpace(body))
		return
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.schemaregistry.v1+json" {
		t.Errorf("step %d %s: Content-Type %q, want application/vnd.schemaregistry.v1+json", i, what, ct)
	}
	if st.Status >= 400 {
		var e struct {
			Code    *int   `json:"error_code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Code == nil || e.Message == "" {
			t.Errorf("step %d %s: error body %s is not {error_code, message}", i, what, bytes.TrimSpace(body))
			return
		}
		if *e.Code != st.Code {
			t.Errorf("step %d %s: error_code %d, want %d (%s)", i, what, *e.Code, st.Code, e.Message)
		}
		return
	}
	if st.Want != "" && !jsonEqual(body, []byte(st.Want)) {
		t.Errorf("step %d %s: body %s, want %s", i, what, bytes.TrimSpace(body), st.Want)
	}
	if st.Contains != "" && !bytes.Contains(body, []byte(st.Contains)) {
		t.Errorf("step %d %s: body %s lacks %s", i, what, bytes.TrimSpace(body), st.Contains)
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
