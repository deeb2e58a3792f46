package deliver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/deliver/enrich"
	"github.com/provbus/provbus/internal/embedded/embeddedtest"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// bodies is a connector keeping every body it accepted.
type bodies struct {
	mu  sync.Mutex
	got []map[string]json.RawMessage
}

func (b *bodies) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		w.WriteHeader(400)
		return
	}
	b.mu.Lock()
	b.got = append(b.got, m)
	b.mu.Unlock()
	w.WriteHeader(202)
}

func (b *bodies) first() map[string]json.RawMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.got) == 0 {
		return nil
	}
	return b.got[0]
}

// stateLog writes what the pipeline would have written before the
// handler event: Account/New, the directory's row for it, the
// customer-inherited suspension; then that suspension on the handler topic.
func stateLog(t *testing.T, include bool) map[string]json.RawMessage {
	c := stateCluster(t)
	rc := &bodies{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	h := fastHandler(srv.URL)
	h.IncludeState = include
	stop := run(t, c, h)
	waitFor(t, "the suspension delivered", 15*time.Second, func() bool { return rc.first() != nil })
	stop()
	return rc.first()
}

func stateCluster(t *testing.T) *embeddedtest.Cluster {
	c := cluster(t, 3)
	c.Create(t, 3, enrich.Topics()...)
	c.Use(t, "portabilling.account", topology.TopicAccountInherited)
	acc, cust, prod := int64(11), int64(5), int64(3)
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	created := &schemas.Event{EventID: "new-11", Source: "portabilling", EventType: "Account/New", Origin: schemas.OriginDirect,
		IAccount: &acc, ICustomer: &cust, IProduct: &prod, OccurredAt: t0, ReceivedAt: t0, Payload: `{}`}
	parent, from := "cust-suspend-5", schemas.InheritedFromCustomer
	suspended := &schemas.Event{EventID: "inh-11", Source: "portabilling", EventType: "Account/Status/Suspend", Origin: schemas.OriginInherited,
		InheritedFrom: &from, ParentEventID: &parent, IAccount: &acc, ICustomer: &cust,
		OccurredAt: t0.Add(time.Minute), ReceivedAt: t0.Add(time.Minute), Payload: `{}`}
	var recs []*kgo.Record
	for _, w := range []struct {
		topic string
		ev    *schemas.Event
	}{{"portabilling.account", created}, {topology.TopicAccountInherited, suspended}, {topology.HandlerTopic(testHandler), suspended}} {
		rec, err := records.Event(c.Codec, w.topic, "11", w.ev)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	recs = append(recs, &kgo.Record{Topic: topology.TopicDirectoryAccounts, Key: []byte("11"), Value: []byte(`{"i_customer":5,"i_product":3}`)})
	if err := c.Client.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return c
}

// The body of a customer-inherited suspension carries the account's state
// as of delivery: owner from the directory, suspended from the inherited
// event, which is also the last status event.
func TestBodyCarriesAccountState(t *testing.T) {
	body := stateLog(t, true)
	var st struct {
		Account *struct {
			IAccount        int64   `json:"i_account"`
			ICustomer       *int64  `json:"i_customer"`
			IProduct        *int64  `json:"i_product"`
			Closed          bool    `json:"closed"`
			Suspended       bool    `json:"suspended"`
			Blocked         bool    `json:"blocked"`
			LastStatusEvent *string `json:"last_status_event"`
			LastStatusAt    *string `json:"last_status_at"`
			AsOf            string  `json:"as_of"`
		} `json:"account"`
	}
	if err := json.Unmarshal(body["state"], &st); err != nil || st.Account == nil {
		t.Fatalf("state %s: %v", body["state"], err)
	}
	a := st.Account
	if a.IAccount != 11 || a.ICustomer == nil || *a.ICustomer != 5 || a.IProduct == nil || *a.IProduct != 3 ||
		a.Closed || !a.Suspended || a.Blocked || a.LastStatusEvent == nil || *a.LastStatusEvent != "Account/Status/Suspend" ||
		a.LastStatusAt == nil || *a.LastStatusAt != "2026-11-30T10:01:00Z" || a.AsOf == "" {
		t.Fatalf("state %s", body["state"])
	}
}

// include_state: false leaves the field out.
func TestBodyWithoutState(t *testing.T) {
	body := stateLog(t, false)
	if _, ok := body["state"]; ok {
		t.Fatalf("state sent with include_state off: %s", body["state"])
	}
	if string(body["event_id"]) != `"inh-11"` {
		t.Fatalf("body %v", body)
	}
}

// "As of delivery": the suspension's first attempts fail; meanwhile the
// account is unsuspended, and the attempt that succeeds carries the state
// the reader followed since the start, not the state at the event's time.
func TestRetryCarriesStateAsOfItsAttempt(t *testing.T) {
	c := stateCluster(t)
	var mu sync.Mutex
	unsuspended := false
	var sent []bool // the suspended flag of each attempt
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			State struct {
				Account struct {
					Suspended bool `json:"suspended"`
				} `json:"account"`
			} `json:"state"`
		}
		raw, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(raw, &b); err != nil {
			w.WriteHeader(400)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, b.State.Account.Suspended)
		if !unsuspended || b.State.Account.Suspended {
			w.WriteHeader(503) // down until the unsuspension shows
			return
		}
		w.WriteHeader(202)
	}))
	defer srv.Close()
	h := fastHandler(srv.URL)
	h.IncludeState = true
	run(t, c, h)
	waitFor(t, "a first attempt", 15*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(sent) > 0 })
	acc := int64(11)
	at := time.Date(2026, 11, 30, 10, 2, 0, 0, time.UTC)
	rec, err := records.Event(c.Codec, "portabilling.account", "11", &schemas.Event{EventID: "unsuspend-11", Source: "portabilling",
		EventType: "Account/Status/Unsuspend", Origin: schemas.OriginDirect, IAccount: &acc, OccurredAt: at, ReceivedAt: at, Payload: `{}`})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Client.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	unsuspended = true
	mu.Unlock()
	waitFor(t, "an attempt showing the unsuspension", 15*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(sent) > 0 && !sent[len(sent)-1]
	})
	mu.Lock()
	defer mu.Unlock()
	if !sent[0] {
		t.Fatalf("the first attempt was not suspended: %v", sent)
	}
}
