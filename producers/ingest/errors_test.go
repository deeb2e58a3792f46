package ingest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// TestErrors posts every kind of bad request and checks the status, the
// JSON body and that nothing at all was produced.
func TestErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, WithMaxBodyBytes(4096))
	good := `{"event_type":"Account/New","variables":{"i_event":"1","i_account":1}}`
	for _, tc := range []struct {
		name, source, body string
		noAuth             bool
		hdr                []string
		status             int
		want               map[string]any // top-level fields of the JSON body
		indexes            []int          // indexes listed in "errors"
	}{
		{name: "malformed json", source: "portabilling", body: `{"event_type":`, status: 400,
			want: map[string]any{"error": "malformed JSON"}, indexes: []int{0}},
		{name: "missing field", source: "portabilling", body: `{"variables":{"i_account":1}}`, status: 400,
			want: map[string]any{"error": "missing required field", "field": "event_type", "index": 0.0}},
		{name: "wrong type", source: "portabilling", body: `{"event_type":"Account/New","variables":{"i_account":"abc"}}`, status: 400,
			want: map[string]any{"field": "variables.i_account"}},
		{name: "missing domain key", source: "portabilling", body: `[` + good + `,` + good + `,` + good + `,{"event_type":"Account/New","variables":{"i_customer":5}}]`, status: 400,
			want: map[string]any{"error": "missing required field", "field": "variables.i_account", "index": 3.0}, indexes: []int{3}},
		{name: "missing did number", source: "portabilling", body: `{"event_type":"DID/New","variables":{"i_did":5}}`, status: 400,
			want: map[string]any{"field": "variables.number"}},
		{name: "array names every bad index", source: "portabilling", body: `[` + good + `,{"variables":{}},` + good + `,{"event_type":"Account/New","variables":{}}]`, status: 400,
			want: map[string]any{"index": 1.0}, indexes: []int{1, 3}},
		{name: "transatel missing msisdn", source: "transatel", body: `{"header":{"eventId":"1","eventType":"CONNECTIVITY-MANAGEMENT/SUBSCRIBER/ACTIVATED"},"body":{}}`, status: 400,
			want: map[string]any{"field": "body.msisdn"}},
		{name: "transatel missing eventId", source: "transatel", body: `{"header":{"eventType":"X"},"body":{}}`, status: 400,
			want: map[string]any{"field": "header.eventId"}},
		{name: "jerasoft missing object_id", source: "jerasoft", body: `{"event":{"events_id":"clients.create"},"data":{}}`, status: 400,
			want: map[string]any{"field": "event.object_id"}},
		{name: "jerasoft missing events_id", source: "jerasoft", body: `{"event":{"object_id":1}}`, status: 400,
			want: map[string]any{"field": "event.events_id"}},
		{name: "portabilling no credentials", source: "portabilling", body: good, noAuth: true, status: 401, want: map[string]any{"error": "unauthorized"}},
		{name: "portabilling bad credentials", source: "portabilling", body: good, hdr: []string{"Authorization", "Basic eDp5"}, status: 401},
		{name: "transatel unsigned", source: "transatel", body: `{}`, noAuth: true, status: 401},
		{name: "transatel bad signature", source: "transatel", body: `{}`, hdr: []string{"X-TSL-Signature-256", "sha256=" + strings.Repeat("ab", 32)}, status: 401},
		{name: "jerasoft no token", source: "jerasoft", body: `{}`, noAuth: true, status: 401},
		{name: "jerasoft bad token", source: "jerasoft", body: `{}`, hdr: []string{"X-Auth-Token", "nope"}, status: 401},
		{name: "too large", source: "portabilling", body: `{"event_type":"Account/New","variables":{"x":"` + strings.Repeat("a", 5000) + `"}}`, status: 413,
			want: map[string]any{"error": "body too large", "limit_bytes": 4096.0}},
		{name: "not json", source: "portabilling", body: good, hdr: []string{"Content-Type", "text/plain"}, status: 415,
			want: map[string]any{"error": "unsupported content type"}},
		{name: "form", source: "jerasoft", body: good, hdr: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 415},
		{name: "unknown source", source: "nokia", body: good, status: 404, want: map[string]any{"error": "not found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := h.post(tc.source, tc.body, tc.noAuth, tc.hdr...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("body %q: %v", b, err)
			}
			if _, ok := got["error"].(string); !ok {
				t.Errorf("no error in %s", b)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v (body %s)", k, got[k], v, b)
				}
			}
			if tc.indexes != nil {
				errs, _ := got["errors"].([]any)
				if len(errs) != len(tc.indexes) {
					t.Fatalf("errors %v, want indexes %v", errs, tc.indexes)
				}
				for i, e := range errs {
					if idx := e.(map[string]any)["index"]; idx != float64(tc.indexes[i]) {
						t.Errorf("errors[%d].index = %v, want %d", i, idx, tc.indexes[i])
					}
				}
			}
			if n := h.total(); n != 0 {
				t.Fatalf("%d records produced", n)
			}
		})
	}
	// The same harness still accepts good requests: the errors above did
	// not wedge it.
	if resp, b := h.post("portabilling", good, false); resp.StatusCode != http.StatusOK {
		t.Fatalf("good after errors: %d %s", resp.StatusCode, b)
	}
	if n := h.total(); n != 1 {
		t.Fatalf("%d records after one good request", n)
	}
}

// TestWriteAcceptedMatchesJSON: the hand-written 200 body is byte for byte
// what writeJSON(Accepted{…}) wrote, escapes included.
func TestWriteAcceptedMatchesJSON(t *testing.T) {
	for _, c := range []struct{ accepted, quarantined []string }{
		{nil, nil},
		{[]string{"1", "2"}, nil},
		{[]string{"a\"b", `c\d`, "<&>", "\x01\u2028é", "\xff"}, []string{"q 1", "9f86d081884c7d659a2feaa0c55ad015"}},
	} {
		want := httptest.NewRecorder()
		writeJSON(want, http.StatusOK, Accepted{EventIDs: nonNil(c.accepted), Quarantined: nonNil(c.quarantined)})
		got := httptest.NewRecorder()
		writeAccepted(got, http.StatusOK, c.accepted, c.quarantined)
		if got.Body.String() != want.Body.String() || !reflect.DeepEqual(got.Header(), want.Header()) || got.Code != want.Code {
			t.Errorf("writeAccepted = %d %v %q, writeJSON %d %v %q", got.Code, got.Header(), got.Body, want.Code, want.Header(), want.Body)
		}
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
