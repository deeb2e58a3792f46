package ingest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/producers/edge"
	"github.com/provbus/provbus/schemas"
)

const jerasoftEvent = `{"event":{"events_id":"clients.create","object_id":7},"data":{}}`

// Issue 12 #1: a source without credentials answers 404 (as an unknown
// one does) and produces nothing; marked insecure, it is served. The twin
// proves the 404 is the gate, not a broken source.
func TestSourceOpenOnlyOnPurpose(t *testing.T) {
	t.Parallel()
	espfOnly := config.Auth{PortaBilling: testAuth.PortaBilling}
	h := newHarness(t, WithAuth(espfOnly))
	for _, source := range []string{"jerasoft", "transatel", "nokia"} {
		resp, b := h.post(source, jerasoftEvent, true)
		if resp.StatusCode != http.StatusNotFound || strings.TrimSpace(string(b)) != `{"error":"not found"}` {
			t.Errorf("%s without credentials: %d %s, want 404 not found", source, resp.StatusCode, b)
		}
	}
	if n := h.total(); n != 0 {
		t.Fatalf("unconfigured sources produced %d records", n)
	}
	for _, addr := range []string{"127.0.0.1:8080", "0.0.0.0:8080", ":8080"} {
		if err := h.srv.CheckListen(addr); err != nil {
			t.Errorf("no open source, %s: %v", addr, err)
		}
	}

	twin := newHarness(t, WithAuth(espfOnly), WithSources(config.Sources{JeraSoft: config.SourcePolicy{Insecure: true}}))
	if resp, b := twin.post("jerasoft", jerasoftEvent, true); resp.StatusCode != http.StatusOK {
		t.Fatalf("insecure jerasoft: %d %s", resp.StatusCode, b)
	}
	if n := twin.total(); n != 1 {
		t.Fatalf("insecure jerasoft produced %d records, want 1", n)
	}
	if served := twin.srv.Served(); len(served) != 2 || !served["jerasoft"] || served["portabilling"] {
		t.Errorf("served = %v", served)
	}
	for addr, ok := range map[string]bool{"127.0.0.1:8080": true, "[::1]:0": true, "0.0.0.0:8080": false, ":8080": false, "10.0.0.5:8080": false, "example.net:80": false} {
		if err := twin.srv.CheckListen(addr); (err == nil) != ok || (err != nil && !errors.Is(err, ErrConfig)) {
			t.Errorf("open jerasoft on %s: %v, want ok=%v", addr, err, ok)
		}
	}
	public := newHarness(t, WithAuth(espfOnly), WithSources(config.Sources{JeraSoft: config.SourcePolicy{Insecure: true, InsecurePublic: true}}))
	if err := public.srv.CheckListen("0.0.0.0:8080"); err != nil {
		t.Errorf("insecure_public: %v", err)
	}
}

// Issue 12 #4: a source's bucket and each credential's bucket answer 429
// with Retry-After once empty; another credential keeps its own bucket.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	auth := testAuth
	auth.JeraSoft.Instances = []config.TokenInstance{{Name: "lab", Token: "lab-token"}}
	h := newHarness(t, WithAuth(auth), WithSources(config.Sources{
		PortaBilling: config.SourcePolicy{RateLimit: config.RateLimit{PerSecond: 0.5, Burst: 2}},
		JeraSoft:     config.SourcePolicy{CredentialRateLimit: config.RateLimit{PerSecond: 0.1, Burst: 1}},
	}))
	espfBody := `{"event_type":"Account/New","variables":{"i_event":"r%d","i_account":1}}`
	var codes []int
	for i := 0; i < 3; i++ {
		resp, b := h.post("portabilling", strings.Replace(espfBody, "%d", string(rune('0'+i)), 1), false)
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests && (resp.Header.Get("Retry-After") != "2" || !strings.Contains(string(b), "rate limit")) {
			t.Errorf("429 without Retry-After 2: %q %s", resp.Header.Get("Retry-After"), b)
		}
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
		t.Errorf("source bucket of 2: codes %v, want 200 200 429", codes)
	}
	// Per credential: the default token's bucket empties, lab's does not.
	if resp, b := h.post("jerasoft", jerasoftEvent, false); resp.StatusCode != 200 {
		t.Fatalf("first jerasoft: %d %s", resp.StatusCode, b)
	}
	if resp, _ := h.post("jerasoft", jerasoftEvent, false); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "10" {
		t.Errorf("second request of the same credential: %d Retry-After %q, want 429 10", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp, b := h.post("jerasoft", jerasoftEvent, true, "X-Auth-Token", "lab-token"); resp.StatusCode != 200 {
		t.Errorf("another credential: %d %s", resp.StatusCode, b)
	}
	if n := h.total(); n != 4 {
		t.Errorf("%d records, want the 4 accepted requests' only", n)
	}
}

// Issue 12 #4: an allow-list refuses other addresses with 403, and
// X-Forwarded-For counts only from a trusted proxy.
func TestAllowListAndProxies(t *testing.T) {
	t.Parallel()
	allow := config.Sources{PortaBilling: config.SourcePolicy{AllowCIDRs: []string{"10.0.0.0/8"}}}
	direct := newHarness(t, WithSources(allow))
	proxied := newHarness(t, WithSources(allow), WithTrustedProxies("127.0.0.0/8", "::1/128"))
	body := `{"event_type":"Account/New","variables":{"i_event":"a1","i_account":1}}`
	for _, tc := range []struct {
		name string
		h    *harness
		xff  string
		want int
	}{
		{"loopback peer, not allowed", direct, "", 403},
		{"forged header from an untrusted peer", direct, "10.1.2.3", 403},
		{"trusted proxy, allowed client", proxied, "10.1.2.3", 200},
		{"trusted proxy, client behind a forged hop", proxied, "10.9.9.9, 192.0.2.7", 403},
		{"trusted proxy, no header", proxied, "", 403},
		{"trusted proxy, garbage header", proxied, "not-an-ip", 403},
	} {
		var hdr []string
		if tc.xff != "" {
			hdr = []string{"X-Forwarded-For", tc.xff}
		}
		before := tc.h.total()
		resp, b := tc.h.post("portabilling", body, false, hdr...)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, b, tc.want)
		}
		if produced := tc.h.total() - before; tc.want != 200 && produced != 0 {
			t.Errorf("%s: refused but produced %d", tc.name, produced)
		}
	}
}

func TestClientIP(t *testing.T) {
	ps, err := parseProxies([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ remote, xff, want string }{
		{"192.0.2.1:5000", "198.51.100.9", "192.0.2.1"},                // untrusted peer: header ignored
		{"10.0.0.1:5000", "198.51.100.9", "198.51.100.9"},              // trusted peer
		{"10.0.0.1:5000", "203.0.113.5, 198.51.100.9", "198.51.100.9"}, // right-most untrusted hop
		{"10.0.0.1:5000", "198.51.100.9, 10.0.0.2", "198.51.100.9"},    // through two proxies
		{"10.0.0.1:5000", "", "10.0.0.1"},                              // no header
		{"10.0.0.1:5000", "bogus", "10.0.0.1"},                         // unparsable: the proxy itself
		{"[::ffff:10.0.0.1]:5000", "198.51.100.9", "198.51.100.9"},     // v4-mapped peer
		{"[2001:db8::1]:5000", "198.51.100.9", "2001:db8::1"},          // v6 untrusted
	} {
		r := httptest.NewRequest("POST", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := ps.clientIP(r); got != netip.MustParseAddr(tc.want) {
			t.Errorf("%s via %q: %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

// Issue 12 #2: each limit refuses with a 400 naming it, lists at most
// edge.MaxProblems problems with their count, and produces nothing.
func TestRequestLimits(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	deep := `{"header":{"eventId":"d","eventType":"CONNECTIVITY-MANAGEMENT/SUBSCRIBER/ACTIVATED"},"body":{"msisdn":"1","x":` +
		strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40) + `}}`
	many := `[` + strings.Repeat(`{},`, 300000) + `{}]`
	var vars strings.Builder
	for i := 0; i < 600; i++ {
		vars.WriteString(`,"v` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + `_` + strings.Repeat("y", i/26) + `":1`)
	}
	attrs := `{"event_type":"Account/New","variables":{"i_event":"1","i_account":1` + vars.String() + `}}`
	long := `{"event_type":"Account/New","variables":{"i_event":"1","i_account":1,"note":"` + strings.Repeat("n", 70000) + `"}}`
	bad := `[` + strings.Repeat(`{"event_type":"Account/New","variables":{}},`, 999) + `{"event_type":"Account/New","variables":{}}]`
	// 60 events of 500 attributes: each within max_attributes, 30 000
	// together over the request's budget.
	var budget strings.Builder
	budget.WriteByte('[')
	for e := 0; e < 60; e++ {
		if e > 0 {
			budget.WriteByte(',')
		}
		fmt.Fprintf(&budget, `{"event_type":"Account/New","variables":{"i_event":"b%d","i_account":1`, e)
		for j := 0; j < 497; j++ {
			fmt.Fprintf(&budget, `,"v%d":1`, j)
		}
		budget.WriteString(`}}`)
	}
	budget.WriteByte(']')
	for _, tc := range []struct {
		name, source, body, want string
		count                    float64
	}{
		{"deep nesting", "transatel", deep, "nested too deep", 1},
		{"huge array", "portabilling", many, "too many events in one request", 1},
		{"many attributes", "portabilling", attrs, "too many attributes: 602, at most 512", 1},
		{"many attributes in all", "portabilling", budget.String(), "too many attributes in one request", 1},
		{"long attribute", "portabilling", long, "attribute too long", 1},
		{"a thousand bad elements", "portabilling", bad, "missing required field", 1000},
	} {
		resp, b := h.post(tc.source, tc.body, false)
		var got BadRequest
		if err := json.Unmarshal(b, &got); err != nil || resp.StatusCode != 400 {
			t.Errorf("%s: %d %.200s", tc.name, resp.StatusCode, b)
			continue
		}
		if !strings.HasPrefix(got.Error, tc.want) || float64(got.ErrorCount) != tc.count {
			t.Errorf("%s: %q count %d, want %q count %v", tc.name, got.Error, got.ErrorCount, tc.want, tc.count)
		}
		if len(got.Errors) > 20 || len(b) > 4096 {
			t.Errorf("%s: %d problems listed, %d bytes: the answer must stay small", tc.name, len(got.Errors), len(b))
		}
	}
	if n := h.total(); n != 0 {
		t.Errorf("refused requests produced %d records", n)
	}
}

// The request's attribute budget holds at its value and refuses one past
// it, naming the element where it ran out, and the refusal produces
// nothing.
func TestRequestAttributeBudget(t *testing.T) {
	t.Parallel()
	h := newHarness(t, WithLimits(edge.Limits{MaxRequestAttributes: 6}))
	// event_type, i_event, i_account and the variables are the leaves.
	at := `[{"event_type":"Account/New","variables":{"i_event":"1","i_account":1}},{"event_type":"Account/New","variables":{"i_event":"2","i_account":1}}]`
	over := `[{"event_type":"Account/New","variables":{"i_event":"3","i_account":1}},{"event_type":"Account/New","variables":{"i_event":"4","i_account":1,"x":1}}]`
	if resp, b := h.post("portabilling", at, false); resp.StatusCode != 200 {
		t.Fatalf("at the budget: %d %s", resp.StatusCode, b)
	}
	resp, b := h.post("portabilling", over, false)
	var got BadRequest
	if err := json.Unmarshal(b, &got); err != nil || resp.StatusCode != 400 || len(got.Errors) != 1 ||
		got.Errors[0] != (edge.Problem{Index: 1, Error: "too many attributes in one request: 7, at most 6"}) {
		t.Fatalf("over the budget: %d %s", resp.StatusCode, b)
	}
	if n := h.total(); n != 2 {
		t.Errorf("%d records, want the 2 of the request at the budget", n)
	}
}

// Issue 12 #5: the credentials name the installation; its events carry
// the instance (field and header) and an id unique across installations,
// while the default installation's ids stay as they were.
func TestInstances(t *testing.T) {
	t.Parallel()
	auth := testAuth
	auth.PortaBilling.Instances = []config.BasicInstance{{Name: "eu", Username: "espf-eu", Password: "eu-password"}}
	h := newHarness(t, WithAuth(auth))
	body := `{"event_type":"Account/New","variables":{"i_event":"77","i_account":5}}`
	if resp, b := h.post("portabilling", body, false); resp.StatusCode != 200 || !strings.Contains(string(b), `"event_ids":["77"]`) {
		t.Fatalf("default instance: %d %s", resp.StatusCode, b)
	}
	eu := "Basic " + base64.StdEncoding.EncodeToString([]byte("espf-eu:eu-password"))
	if resp, b := h.post("portabilling", body, true, "Authorization", eu); resp.StatusCode != 200 || !strings.Contains(string(b), `"event_ids":["eu:77"]`) {
		t.Fatalf("instance eu: %d %s", resp.StatusCode, b)
	}
	got := map[string]string{}
	for _, r := range h.records("portabilling.account") {
		var ev schemas.Event
		h.decode(r, &ev)
		hdr, _ := records.Header(r, schemas.HeaderInstance)
		inst := "<nil>"
		if ev.Instance != nil {
			inst = *ev.Instance
		}
		got[ev.EventID] = inst + "/" + hdr
	}
	if want := map[string]string{"77": "<nil>/", "eu:77": "eu/eu"}; !reflect.DeepEqual(got, want) {
		t.Errorf("records (id → instance/header) %v, want %v", got, want)
	}
}

// An import of a named installation's file gives the ids its webhooks
// would, so a backfill and a live event de-duplicate.
func TestImportInstance(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	line := `{"event_type":"Account/New","variables":{"i_event":"88","i_account":6}}`
	if _, err := h.srv.ImportEvents(context.Background(), "portabilling", strings.NewReader(line), ImportOptions{Instance: "eu"}); err != nil {
		t.Fatal(err)
	}
	recs := h.records("portabilling.account")
	var ev schemas.Event
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	h.decode(recs[0], &ev)
	if ev.EventID != "eu:88" || ev.Instance == nil || *ev.Instance != "eu" {
		t.Errorf("imported as %q instance %v, want eu:88 / eu", ev.EventID, ev.Instance)
	}
	if _, err := h.srv.ImportEvents(context.Background(), "portabilling", strings.NewReader(line), ImportOptions{Instance: "EU:1"}); err == nil {
		t.Error("an invalid instance name was accepted")
	}
}
