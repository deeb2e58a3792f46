package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/dlq"
	"github.com/provbus/provbus/internal/embedded/embeddedtest"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/processors/dispatch"
	"github.com/provbus/provbus/processors/route"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
	"go.uber.org/zap"
)

// fixture is a console over an embedded cluster holding the README's
// story as the pipeline writes it: account 11 created for customer 1, the
// customer suspended, the inherited suspension of account 11 and its
// delivery to AricentHSS; plus one DLQ and one quarantine record.
type fixture struct {
	t      *testing.T
	ec     *embeddedtest.Cluster
	s      *Server
	srv    *httptest.Server
	del    *fakeDelivery
	parent *kgo.Record // the customer event
	inh    *kgo.Record // the inherited account event
}

func newFixture(t *testing.T, opts ...Option) *fixture {
	t.Helper()
	ctx := context.Background()
	ec := embeddedtest.Start(t, 3)
	cat, err := topology.Default()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ec: ec, del: newFakeDelivery()}
	var all []string
	for _, d := range append(cat.Domains(), cat.Derived()...) {
		all = append(all, d.Topic)
	}
	all = append(all, cat.HandlerTopics()...)
	ec.Create(t, 3, append(all, topology.TopicQuarantine, topology.TopicDLQ)...)
	ec.Use(t, append(all, topology.TopicQuarantine)...)

	t0 := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	id := func(n int64) *int64 { return &n }
	str := func(s string) *string { return &s }
	ev := func(eid, typ, origin string, at time.Time) *schemas.Event {
		return &schemas.Event{EventID: eid, Source: "portabilling", EventType: typ, Origin: origin, OccurredAt: at, ReceivedAt: at,
			Attributes: map[string]string{"i_event": eid}, Payload: `{"event_type":"` + typ + `","variables":{"i_event":"` + eid + `"}}`}
	}
	newAcc := ev("1", "Account/New", "DIRECT", t0)
	newAcc.IAccount, newAcc.ICustomer = id(11), id(1)
	susp := ev("3", "Customer/Status/Suspend", "DIRECT", t0.Add(time.Second))
	susp.ICustomer = id(1)
	inh := ev("inh-3-11", "Account/Status/Suspend", "INHERITED", t0.Add(2*time.Second))
	inh.IAccount, inh.ICustomer, inh.ParentEventID, inh.InheritedFrom = id(11), id(1), str("3"), str("CUSTOMER")
	simEv := ev("t1", "CONNECTIVITY-MANAGEMENT/SUBSCRIBER/ACTIVATED", "DIRECT", t0)
	simEv.Source, simEv.MSISDN, simEv.SIMSerial = "transatel", str("+33612345678"), str("8933150319000000001")
	var recs []*kgo.Record
	for _, x := range []struct {
		topic, key string
		ev         *schemas.Event
		at         time.Time
	}{
		{"portabilling.account", "11", newAcc, t0},
		{"portabilling.customer", "1", susp, t0.Add(time.Second)},
		{topology.TopicAccountInherited, "11", inh, t0.Add(2 * time.Second)},
		{"handler.aricenthss", "11", inh, t0.Add(3 * time.Second)},
		{"transatel.subscriber", "+33612345678", simEv, t0},
	} {
		r, err := records.Event(ec.Codec, x.topic, x.key, x.ev)
		if err != nil {
			t.Fatal(err)
		}
		r.Timestamp = x.at
		recs = append(recs, r)
	}
	// A record the router gave up on: its schema is known, so it redrives.
	poison, err := records.Event(ec.Codec, "portabilling.account", "42", func() *schemas.Event {
		e := ev("p1", "Account/New", "DIRECT", t0)
		e.IAccount = id(42)
		return e
	}())
	if err != nil {
		t.Fatal(err)
	}
	poison.Partition, poison.Offset = 0, 99
	recs = append(recs, records.DLQ(poison, "provbus-route", "unroutable", fmt.Errorf("no subscriber yet"), t0.Format(time.RFC3339)))
	q, err := records.Quarantine(ec.Codec, &schemas.Quarantined{Source: "portabilling", ReceivedAt: t0, Reason: "unknown event type", EventType: str("Account/Teleported"), ContentType: "application/json", Body: []byte(`{"event_type":"Account/Teleported"}`)})
	if err != nil {
		t.Fatal(err)
	}
	recs = append(recs, q)
	res := ec.Client.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, pr := range res { // results come in completion order
		switch pr.Record.Topic {
		case "portabilling.customer":
			f.parent = pr.Record
		case topology.TopicAccountInherited:
			f.inh = pr.Record
		}
	}
	// The handler record's attempts, and one of another event of the same
	// key that its row must not show.
	f.del.attempts["11"] = []Attempt{
		{Handler: "aricenthss", EventID: inh.EventID, At: t0.Add(4 * time.Second), Status: 503, Outcome: "retry", Response: "busy"},
		{Handler: "aricenthss", EventID: inh.EventID, At: t0.Add(5 * time.Second), Status: 200, Outcome: "delivered"},
		{Handler: "aricenthss", EventID: "another-event", At: t0.Add(6 * time.Second), Status: 418, Outcome: "failed"},
	}

	dial := func(opts ...kgo.Opt) (*kgo.Client, error) {
		return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(ec.Brokers()...)}, opts...)...)
	}
	f.s, err = New(cat, dial, ec.Codec, append([]Option{WithRegistry(ec.Registry), WithDelivery(f.del), WithCredentials(loopbackReads(testCreds)), WithLogger(zap.NewNop()),
		WithProcessors(directory.New().Spec(), dispatch.New(cat, zap.NewNop()).Spec(), route.NewStream(cat, time.Hour).Spec())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.s.Close)
	f.srv = httptest.NewServer(f.s.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// get fetches a console path as a loopback reader (signed in with auth)
// and returns the status and body.
func (f *fixture) get(path string, auth bool) (int, string) {
	f.t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
	if auth {
		req.SetBasicAuth(testUser, testPass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *fixture) mustGet(path string, auth bool) string {
	f.t.Helper()
	code, body := f.get(path, auth)
	if code != 200 {
		f.t.Fatalf("GET %s = %d: %s", path, code, body)
	}
	return body
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// post submits a form of page the way the browser does: with the page's
// CSRF token and the credentials. It returns the status and, after a
// redirect, the Location.
func (f *fixture) post(page, action string, form url.Values) (int, string) {
	f.t.Helper()
	m := csrfField.FindStringSubmatch(f.mustGet(page, true))
	if m == nil {
		f.t.Fatalf("%s has no CSRF field for a signed-in reader", page)
	}
	form.Set("csrf", m[1])
	req, _ := http.NewRequest("POST", f.srv.URL+action, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testUser, testPass)
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusSeeOther {
		return resp.StatusCode, string(b)
	}
	return resp.StatusCode, resp.Header.Get("Location")
}

func TestPages(t *testing.T) {
	f := newFixture(t)

	t.Run("flow", func(t *testing.T) {
		body := f.mustGet("/ui/", false)
		for _, want := range []string{`data-node="t:portabilling.customer"`, `data-node="p:provbus-route"`, `data-node="t:handler.aricenthss"`, `data-node="t:provbus.dlq"`, "<svg"} {
			if !strings.Contains(body, want) {
				t.Errorf("flow lacks %s", want)
			}
		}
		_, js := f.get("/ui/flow.json", false)
		var out struct {
			Nodes map[string]struct{ Sub string }
		}
		if err := json.Unmarshal([]byte(js), &out); err != nil {
			t.Fatalf("flow.json: %v: %s", err, js)
		}
		if sub := out.Nodes["t:handler.aricenthss"].Sub; !strings.HasPrefix(sub, "1 off") {
			t.Errorf("handler.aricenthss numbers = %q, want 1 offset", sub)
		}
		if sub := out.Nodes["t:provbus.quarantine"].Sub; !strings.HasPrefix(sub, "1 off") {
			t.Errorf("quarantine numbers = %q, want 1 offset", sub)
		}
	})

	t.Run("handler subscriptions", func(t *testing.T) {
		body := f.mustGet("/ui/handlers/huawei-pcrf", false)
		if !regexp.MustCompile(`<code>Account/ServiceAttribute/Changed</code></th>\s*<td><span class="chip inh">direct \+ inherited`).MatchString(body) {
			t.Error("Account/ServiceAttribute/Changed is not marked inherited for Huawei::PCRF")
		}
		if !regexp.MustCompile(`<code>Account/Product/Changed</code></th>\s*<td><span class="chip">direct<`).MatchString(body) {
			t.Error("Account/Product/Changed is not marked direct only for Huawei::PCRF")
		}
		if !strings.Contains(f.mustGet("/ui/handlers", false), `href="/ui/handlers/huawei-pcrf"`) {
			t.Error("the handler list does not link huawei-pcrf")
		}
		if strings.Contains(f.mustGet("/ui/handlers/huawei-pcrf?done=Call+0800+EVIL&sig=x", false), "EVIL") {
			t.Error("an unsigned outcome message from the URL is displayed")
		}
		if code, _ := f.get("/ui/handlers/nope", false); code != 404 {
			t.Errorf("unknown handler: %d, want 404", code)
		}
	})

	t.Run("handler records", func(t *testing.T) {
		body := f.mustGet("/ui/handlers/aricenthss", false)
		if !strings.Contains(body, "1 record(s)") || !strings.Contains(body, "Account/Status/Suspend") || !strings.Contains(body, eventHref(f.inh)[:len("/ui/events/")]) {
			t.Errorf("aricenthss page lacks its record:\n%s", body)
		}
		if !strings.Contains(body, "has no url under") || strings.Contains(body, "Pause delivery") || strings.Contains(body, `class="error"`) {
			t.Errorf("a handler without a url is not shown as not delivered:\n%s", body)
		}
	})

	t.Run("entity timeline with lineage", func(t *testing.T) {
		body := f.mustGet("/ui/entities?account=11", false)
		iNew, iInh := strings.Index(body, ">Account/New<"), strings.Index(body, ">Account/Status/Suspend<")
		if iNew < 0 || iInh < 0 || iNew > iInh {
			t.Fatalf("want Account/New before Account/Status/Suspend (at %d, %d)", iNew, iInh)
		}
		parent := fmt.Sprintf("r-portabilling_customer-%d-%d", f.parent.Partition, f.parent.Offset)
		if !strings.Contains(body, `id="`+parent+`"`) {
			t.Fatalf("the parent customer event is not on the timeline (%s)", parent)
		}
		inhRow := body[strings.Index(body, fmt.Sprintf(`id="r-portabilling_account_inherited-%d-%d"`, f.inh.Partition, f.inh.Offset)):]
		inhRow = inhRow[:strings.Index(inhRow, "</tr>")]
		if !strings.Contains(inhRow, `href="#`+parent+`"`) || !strings.Contains(inhRow, "Customer/Status/Suspend") {
			t.Errorf("the inherited event does not link its customer event:\n%s", inhRow)
		}
		if !strings.Contains(body, "HTTP 503") || !strings.Contains(body, "HTTP 200") {
			t.Error("the delivery's attempts are not shown")
		}
		if strings.Contains(body, "HTTP 418") {
			t.Error("the attempt of another event is shown on this delivery's row")
		}
		if code, _ := f.get("/ui/entities?account=1&customer=1", false); code != 400 {
			t.Errorf("two entities: %d, want 400", code)
		}
		if code, body := f.get("/ui/entities?account=999", false); code != 200 || !strings.Contains(body, "No record of account 999") {
			t.Errorf("unknown account: %d", code)
		}
		if body := f.mustGet("/ui/entities?sim=8933150319000000001", false); !strings.Contains(body, "last seen with MSISDN <code>&#43;33612345678</code>") || !strings.Contains(body, "SUBSCRIBER/ACTIVATED") {
			t.Errorf("a SIM's timeline is not its MSISDN's:\n%s", body)
		}
		if body := f.mustGet("/ui/entities?sim=0000", false); !strings.Contains(body, "does not appear") {
			t.Error("an unknown SIM is not reported")
		}
		if code, _ := f.get("/ui/entities?kind=customer&id=1", false); code != 200 {
			t.Errorf("the page's own form: %d", code)
		}
	})

	t.Run("event", func(t *testing.T) {
		body := f.mustGet(eventHref(f.inh), false)
		for _, want := range []string{"parent_event_id", "inh-3-11", "INHERITED", "portabilling.account.inherited-value", "i_event", `/ui/entities?customer=1`} {
			if !strings.Contains(body, want) {
				t.Errorf("event page lacks %q:\n%s", want, body)
			}
		}
		for path, want := range map[string]int{
			"/ui/events/portabilling.account/0/999999": 404,
			"/ui/events/portabilling.account/9/0":      404,
			"/ui/events/bad%20topic/0/0":               400,
			"/ui/events/portabilling.account/x/0":      400,
		} {
			if code, _ := f.get(path, false); code != want {
				t.Errorf("GET %s = %d, want %d", path, code, want)
			}
		}
	})

	t.Run("catalog search", func(t *testing.T) {
		body := f.mustGet("/ui/catalog?q=PCRF", false)
		if !strings.Contains(body, "Huawei::PCRF") || strings.Contains(body, ">AricentHSS<") {
			t.Error("search for PCRF: want Huawei::PCRF and not AricentHSS")
		}
	})

	t.Run("quarantine", func(t *testing.T) {
		body := f.mustGet("/ui/quarantine", false)
		if !strings.Contains(body, "unknown event type") || !strings.Contains(body, "Account/Teleported") {
			t.Error("quarantine page lacks the quarantined event")
		}
	})

	t.Run("dlq redrive", func(t *testing.T) {
		body := f.mustGet("/ui/dlq", false)
		if !strings.Contains(body, "unroutable") || strings.Contains(body, `name="sel"`) {
			t.Error("DLQ page: want the reason, and no selection for a reader who is not signed in")
		}
		if code, _ := f.get("/ui/dlq?topic=portabilling.account", false); code != 400 {
			t.Errorf("a domain topic as a DLQ: %d, want 400", code)
		}
		if code, body := f.get("/ui/dlq?topic=handler.aricenthss.parking", false); code != 200 || !strings.Contains(body, "does not exist") {
			t.Errorf("a parking topic not created yet: %d", code)
		}
		m := regexp.MustCompile(`name="sel" value="(\d+:\d+)"`).FindStringSubmatch(f.mustGet("/ui/dlq", true))
		if m == nil {
			t.Fatal("no DLQ record to select for a signed-in reader")
		}
		code, loc := f.post("/ui/dlq", "/ui/dlq/redrive", url.Values{"sel": {m[1]}})
		if code != 303 || !strings.Contains(loc, "1+redriven") {
			t.Fatalf("redrive: %d %s", code, loc)
		}
		l, err := f.s.readLatest(context.Background(), "portabilling.account", 10)
		if err != nil {
			t.Fatal(err)
		}
		var back int
		for _, r := range l.Records {
			if v, ok := records.Header(r, dlq.HeaderRedrivenFrom); ok && string(r.Key) == "42" && strings.HasSuffix(v, m[1]) {
				back++
			}
		}
		if back != 1 {
			t.Fatalf("%d redriven records of key 42 in portabilling.account, want 1", back)
		}
	})

	t.Run("pause and resume", func(t *testing.T) {
		const page = "/ui/handlers/huawei-pcrf"
		if body := f.mustGet(page, false); strings.Contains(body, `action="/ui/handlers/huawei-pcrf/pause"`) {
			t.Error("a reader who is not signed in gets the pause form")
		}
		if code, loc := f.post(page, page+"/pause", url.Values{}); code != 303 || !strings.Contains(loc, "paused") {
			t.Fatalf("pause: %d %s", code, loc)
		}
		if body := f.mustGet(page, true); !strings.Contains(body, `chip warn">paused`) || !strings.Contains(body, page+"/resume") {
			t.Fatal("after pause the page does not show paused with a resume button")
		}
		if code, loc := f.post(page, page+"/resume", url.Values{}); code != 303 || !strings.Contains(loc, "resumed") {
			t.Fatalf("resume: %d %s", code, loc)
		}
		if body := f.mustGet(page, true); !strings.Contains(body, "delivering") {
			t.Fatal("after resume the page does not show delivering")
		}
		if code, _ := f.post(page, page+"/skip", url.Values{"key": {"11"}}); code != 303 {
			t.Fatalf("skip: %d", code)
		}
		if code, _ := f.post(page, page+"/skip", url.Values{"key": {"11"}}); code != http.StatusConflict {
			t.Fatalf("second skip of the same key: %d, want 409 (nothing waits for it)", code)
		}
		if code, _ := f.post(page, page+"/explode", url.Values{}); code != 404 {
			t.Fatalf("unknown action: %d, want 404", code)
		}
	})
}
