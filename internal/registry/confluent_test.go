package registry

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"
)

// confluentStep is one request and Confluent's answer to it: the status,
// the error_code of an error body, and for a success the body (compared
// as JSON) when want is set.
type confluentStep struct {
	method, path, body string
	status             int
	code               int    // error_code of an error answer
	want               string // JSON body of a success, "" to skip
	contains           string // substring of the body, "" to skip
}

func schemaBody(s string) string {
	b, _ := json.Marshal(map[string]string{"schema": s})
	return string(b)
}

// confluentAPI is the conversation of the conformance table: each step's
// expectation is Confluent Schema Registry's (REST API reference and its
// rest/exceptions/Errors.java), in an order that walks a subject through
// config, mode, compatibility and the two-step deletes. Steps depend on
// the ones before them.
var confluentAPI = []confluentStep{
	// Health checks and discovery.
	{method: "GET", path: "/", status: 200, want: `{}`},
	{method: "GET", path: "/schemas/types", status: 200, want: `["AVRO"]`},
	{method: "GET", path: "/no/such/path", status: 404, code: 404},
	{method: "PATCH", path: "/subjects", status: 405, code: 405},

	// Registration and reads.
	{method: "POST", path: "/subjects/a-value/versions", body: schemaBody(subV1), status: 200, want: `{"id":1}`},
	{method: "POST", path: "/subjects/a-value/versions", body: schemaBody(subOptionalIMSI), status: 200, want: `{"id":2}`},
	{method: "POST", path: "/subjects/a-value/versions", body: `{"schema":"{\"type\":\"object\"}","schemaType":"JSON"}`, status: 422, code: 42201},
	{method: "GET", path: "/subjects", status: 200, want: `["a-value"]`},
	{method: "GET", path: "/subjects/a-value/versions", status: 200, want: `[1,2]`},
	{method: "GET", path: "/subjects/a-value/versions/abc", status: 422, code: 42202},
	{method: "GET", path: "/subjects/a-value/versions/0", status: 422, code: 42202},
	{method: "GET", path: "/subjects/a-value/versions/3", status: 404, code: 40402},
	{method: "GET", path: "/subjects/a-value/versions/latest", status: 200, contains: `"version":2`},
	{method: "GET", path: "/subjects/a-value/versions/-1", status: 200, contains: `"version":2`},
	{method: "GET", path: "/subjects/missing-value/versions/1", status: 404, code: 40401},
	{method: "GET", path: "/subjects/missing-value/versions", status: 404, code: 40401},
	{method: "GET", path: "/subjects/a-value/versions/1/schema", status: 200, want: subV1},
	{method: "GET", path: "/schemas/ids/1/schema", status: 200, want: subV1},
	{method: "GET", path: "/schemas/ids/99", status: 404, code: 40403},
	{method: "POST", path: "/subjects/a-value", body: schemaBody(subV1), status: 200, contains: `"version":1`},
	{method: "POST", path: "/subjects/a-value", body: schemaBody(subIMSIRequired), status: 404, code: 40403},
	{method: "POST", path: "/subjects/missing-value", body: schemaBody(subV1), status: 404, code: 40401},

	// Compatibility level: global, subject-level, and no silent fallback.
	{method: "GET", path: "/config", status: 200, want: `{"compatibilityLevel":"BACKWARD_TRANSITIVE"}`},
	{method: "GET", path: "/config/a-value", status: 404, code: 40408},
	{method: "GET", path: "/config/missing-value", status: 404, code: 40408},
	{method: "GET", path: "/config/a-value?defaultToGlobal=true", status: 200, want: `{"compatibilityLevel":"BACKWARD_TRANSITIVE"}`},
	{method: "PUT", path: "/config/a-value", body: `{"compatibility":"SIDEWAYS"}`, status: 422, code: 42203},
	{method: "PUT", path: "/config", body: `{"compatibility":""}`, status: 422, code: 42203},
	{method: "PUT", path: "/config", body: `not json`, status: 422, code: 42203},
	{method: "PUT", path: "/config/a-value", body: `{"compatibility":"full"}`, status: 200, want: `{"compatibility":"FULL"}`},
	{method: "GET", path: "/config/a-value", status: 200, want: `{"compatibilityLevel":"FULL"}`},
	{method: "DELETE", path: "/config/a-value", status: 200, want: `{"compatibilityLevel":"FULL"}`},
	{method: "DELETE", path: "/config/a-value", status: 404, code: 40401},

	// Mode: subject-level, validated, enforced; IMPORT refused the Confluent way.
	{method: "GET", path: "/mode", status: 200, want: `{"mode":"READWRITE"}`},
	{method: "GET", path: "/mode/a-value", status: 404, code: 40409},
	{method: "GET", path: "/mode/a-value?defaultToGlobal=true", status: 200, want: `{"mode":"READWRITE"}`},
	{method: "PUT", path: "/mode/a-value", body: `{"mode":"SIDEWAYS"}`, status: 422, code: 42204},
	{method: "PUT", path: "/mode/a-value", body: `{"mode":"IMPORT"}`, status: 422, code: 42205},
	{method: "PUT", path: "/mode/a-value", body: `{"mode":"READONLY"}`, status: 200, want: `{"mode":"READONLY"}`},
	{method: "POST", path: "/subjects/a-value/versions", body: schemaBody(subNoMSISDN), status: 422, code: 42205},
	{method: "DELETE", path: "/mode/a-value", status: 200, want: `{"mode":"READONLY"}`},

	// Compatibility checks: messages only with verbose.
	{method: "POST", path: "/compatibility/subjects/a-value/versions/latest", body: schemaBody(subOptionalIMSI), status: 200, want: `{"is_compatible":true}`},
	{method: "POST", path: "/compatibility/subjects/a-value/versions", body: schemaBody(subRequiredICCID), status: 200, want: `{"is_compatible":false}`},
	{method: "POST", path: "/compatibility/subjects/a-value/versions?verbose=true", body: schemaBody(subRequiredICCID), status: 200, contains: `"messages":["`},
	{method: "POST", path: "/compatibility/subjects/a-value/versions/abc", body: schemaBody(subV1), status: 422, code: 42202},
	{method: "POST", path: "/compatibility/subjects/a-value/versions/9", body: schemaBody(subV1), status: 404, code: 40402},

	// Deleting a version: soft first, then permanent.
	{method: "DELETE", path: "/subjects/a-value/versions/abc", status: 422, code: 42202},
	{method: "DELETE", path: "/subjects/a-value/versions/2?permanent=true", status: 404, code: 40407},
	{method: "DELETE", path: "/subjects/a-value/versions/2", status: 200, want: `2`},
	{method: "DELETE", path: "/subjects/a-value/versions/2", status: 404, code: 40406},
	{method: "GET", path: "/subjects/a-value/versions", status: 200, want: `[1]`},
	{method: "GET", path: "/subjects/a-value/versions?deleted=true", status: 200, want: `[1,2]`},
	{method: "GET", path: "/subjects/a-value/versions?deletedOnly=true", status: 200, want: `[2]`},
	{method: "GET", path: "/subjects/a-value/versions/2", status: 404, code: 40402},
	{method: "GET", path: "/subjects/a-value/versions/2?deleted=true", status: 200, contains: `"version":2`},
	{method: "DELETE", path: "/subjects/a-value/versions/2?permanent=true", status: 200, want: `2`},
	{method: "DELETE", path: "/subjects/a-value/versions/2?permanent=true", status: 404, code: 40402},
	{method: "DELETE", path: "/subjects/missing-value/versions/1", status: 404, code: 40401},

	// A subject whose only version is soft-deleted is not listed.
	{method: "POST", path: "/subjects/b-value/versions", body: schemaBody(subV1), status: 200, want: `{"id":1}`},
	{method: "DELETE", path: "/subjects/b-value/versions/1", status: 200, want: `1`},
	{method: "GET", path: "/subjects", status: 200, want: `["a-value"]`},
	{method: "GET", path: "/subjects?deleted=true", status: 200, want: `["a-value","b-value"]`},
	{method: "GET", path: "/subjects?deletedOnly=true", status: 200, want: `["b-value"]`},
	{method: "GET", path: "/subjects/b-value/versions", status: 404, code: 40401},

	// Deleting a subject: soft first, then permanent.
	{method: "DELETE", path: "/subjects/a-value?permanent=true", status: 404, code: 40405},
	{method: "DELETE", path: "/subjects/a-value", status: 200, want: `[1]`},
	{method: "DELETE", path: "/subjects/a-value", status: 404, code: 40404},
	{method: "POST", path: "/subjects/a-value", body: schemaBody(subV1), status: 404, code: 40401},
	{method: "DELETE", path: "/subjects/missing-value", status: 404, code: 40401},
	{method: "DELETE", path: "/subjects/b-value?permanent=true", status: 200, want: `[1]`},
	{method: "GET", path: "/subjects?deleted=true", status: 200, want: `["a-value"]`},
	// Registering again under a soft-deleted subject continues its numbering.
	{method: "POST", path: "/subjects/a-value/versions", body: schemaBody(subV1), status: 200, want: `{"id":1}`},
	{method: "GET", path: "/subjects/a-value/versions", status: 200, want: `[3]`},
}

// TestConfluentConformance walks confluentAPI against the registry, then
// restarts it from its journal and checks the state survived as shown.
func TestConfluentConformance(t *testing.T) {
	dir := t.TempDir()
	reg, err := New(dir, WithLogger(zaptest.NewLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range confluentAPI {
		checkStep(t, reg.Handler(), i, st)
	}
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}

	reg2, err := New(dir, WithLogger(zaptest.NewLogger(t)))
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer reg2.Close()
	for i, st := range []confluentStep{
		{method: "GET", path: "/subjects?deleted=true", status: 200, want: `["a-value"]`},
		{method: "GET", path: "/subjects/a-value/versions?deleted=true", status: 200, want: `[1,3]`},
		{method: "DELETE", path: "/subjects/a-value/versions/1", status: 404, code: 40406},
		{method: "GET", path: "/config/a-value", status: 404, code: 40408},
	} {
		checkStep(t, reg2.Handler(), 1000+i, st)
	}
}

func checkStep(t *testing.T, h http.Handler, i int, st confluentStep) {
	t.Helper()
	req, err := http.NewRequest(st.method, "http://registry"+st.path, strings.NewReader(st.body))
	if err != nil {
		t.Fatal(err)
	}
	if st.body != "" {
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	}
	rec := &recorder{header: make(http.Header)}
	h.ServeHTTP(rec, req)
	body := rec.body.Bytes()
	what := st.method + " " + st.path
	if rec.status != st.status {
		t.Errorf("step %d %s: status %d, want %d; body %s", i, what, rec.status, st.status, body)
		return
	}
	if ct := rec.header.Get("Content-Type"); ct != "application/vnd.schemaregistry.v1+json" {
		t.Errorf("step %d %s: Content-Type %q, want application/vnd.schemaregistry.v1+json", i, what, ct)
	}
	if st.status >= 400 {
		var e struct {
			Code    *int   `json:"error_code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Code == nil || e.Message == "" {
			t.Errorf("step %d %s: error body %s is not {error_code, message}", i, what, body)
			return
		}
		if *e.Code != st.code {
			t.Errorf("step %d %s: error_code %d, want %d (%s)", i, what, *e.Code, st.code, e.Message)
		}
		return
	}
	if st.want != "" && !jsonEqual(body, []byte(st.want)) {
		t.Errorf("step %d %s: body %s, want %s", i, what, bytes.TrimSpace(body), st.want)
	}
	if st.contains != "" && !bytes.Contains(body, []byte(st.contains)) {
		t.Errorf("step %d %s: body %s lacks %s", i, what, bytes.TrimSpace(body), st.contains)
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
