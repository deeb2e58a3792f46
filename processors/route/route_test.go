package route

import (
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

func catalog(t testing.TB) *topology.Catalog {
	t.Helper()
	c, err := topology.Default()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func topicsOf(outs []Out) []string {
	var ts []string
	for _, o := range outs {
		ts = append(ts, o.Topic)
	}
	sort.Strings(ts)
	return ts
}

func setOf(m map[string]bool) []string {
	var ts []string
	for t := range m {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// TestSeed000Routing: every event spelling of seed 000, in both origins,
// reaches exactly the handler topics the seed's tables name.
func TestSeed000Routing(t *testing.T) {
	c := catalog(t)
	r := New(c)
	cases := seedCases(t, c)
	if len(cases) < 2*80 {
		t.Fatalf("only %d cases: seed parse broken?", len(cases))
	}
	for i, tc := range cases {
		ev := testEvent(fmt.Sprint(i), tc.event, tc.origin)
		outs, err := r.Route(nil, ev, []byte("42"))
		if err != nil {
			t.Errorf("%s %s: %v", tc.origin, tc.event, err)
			continue
		}
		if got, want := fmt.Sprint(topicsOf(outs)), fmt.Sprint(setOf(tc.want)); got != want {
			t.Errorf("%s %q:\n got  %s\n want %s", tc.origin, tc.event, got, want)
		}
	}
}

// TestClosedInheritedPerHandler is design §3's own example.
func TestClosedInheritedPerHandler(t *testing.T) {
	r := New(catalog(t))
	outs, err := r.Route(nil, testEvent("1", "Account/Status/Closed", schemas.OriginInherited), []byte("42"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, o := range outs {
		got[o.Handler.Name] = true
	}
	for _, h := range []string{"AudioCodes", "ECConnect", "EventSender", "IPTV", "Titan::HSS"} {
		if !got[h] {
			t.Errorf("%s missing", h)
		}
	}
	for _, h := range []string{"NetNumber", "Sandvine", "YateHSS", "ZXUN::HSS", "ZXUN::SPR"} {
		if got[h] {
			t.Errorf("%s must not receive inherited Account/Status/Closed", h)
		}
	}
}

func TestExampleHandlers(t *testing.T) {
	r := New(catalog(t))
	msisdn, obj := "33612345678", "77"
	tests := []struct {
		ev   *schemas.Event
		want string
	}{
		{&schemas.Event{EventID: "t1", Source: "transatel", EventType: "CONNECTIVITY-MANAGEMENT/SUBSCRIBER/ACTIVATED", Origin: "DIRECT", MSISDN: &msisdn}, "handler.simprovisioning"},
		{&schemas.Event{EventID: "j1", Source: "jerasoft", EventType: "dids.create", Origin: "DIRECT", ObjectID: &obj}, "handler.softswitch"},
	}
	for _, tc := range tests {
		if _, ok := catalog(t).Lookup(tc.ev.EventType); !ok {
			t.Errorf("%s: not in catalog", tc.ev.EventType)
			continue
		}
		outs, err := r.Route(nil, tc.ev, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(outs) != 1 || outs[0].Topic != tc.want || !outs[0].Handler.Example {
			t.Errorf("%s: %v", tc.ev.EventType, topicsOf(outs))
		}
		if k, _ := tc.ev.Key("msisdn"); tc.ev.Source == "transatel" && string(outs[0].Key) != k {
			t.Errorf("key %q, want the msisdn", outs[0].Key)
		}
	}
}

func TestUnroutable(t *testing.T) {
	r := New(catalog(t))
	noKey := testEvent("k", "Account/New", "DIRECT")
	noKey.IAccount = nil
	for name, ev := range map[string]*schemas.Event{
		"no id":        testEvent("", "Account/New", "DIRECT"),
		"bad origin":   testEvent("o", "Account/New", "SIDEWAYS"),
		"unknown type": testEvent("u", "Account/Teleported", "DIRECT"),
		"no key":       noKey,
	} {
		if _, err := r.Route(nil, ev, nil); !errors.Is(err, ErrUnroutable) {
			t.Errorf("%s: err %v, want ErrUnroutable", name, err)
		}
	}
}

func TestOnlyHandler(t *testing.T) {
	c := catalog(t)
	h, _ := c.Handler("IPTV")
	r := New(c, OnlyHandler(h))
	outs, _ := r.Route(nil, testEvent("1", "Account/Status/Closed", "DIRECT"), []byte("42"))
	if fmt.Sprint(topicsOf(outs)) != "[handler.iptv]" {
		t.Errorf("got %v", topicsOf(outs))
	}
}

// TestSameEventFiveTimes: an ESPF retry (same i_event → same event_id) is
// routed once per handler; the twin with de-duplication off sees five.
func TestSameEventFiveTimes(t *testing.T) {
	c := catalog(t)
	for _, tc := range []struct {
		window time.Duration
		want   int
	}{{7 * 24 * time.Hour, 1}, {0, 5}} {
		p := NewProcessor(c, tc.window)
		tp := Partition{"portabilling.account", 3}
		perTopic := map[string]int{}
		for i := 0; i < 5; i++ {
			ts := time.UnixMilli(1_700_000_000_000 + int64(i)*60_000)
			outs, err := p.Process(nil, tp, []byte("42"), ts, testEvent("espf-1001", "Account/Status/Closed", "DIRECT"))
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range outs {
				perTopic[o.Topic]++
			}
			p.Dedup.Changes(nil)
			p.Dedup.Commit()
		}
		if len(perTopic) < 5 {
			t.Fatalf("only %d handler topics", len(perTopic))
		}
		for topic, n := range perTopic {
			if n != tc.want {
				t.Errorf("window %v: %s got %d records, want %d", tc.window, topic, n, tc.want)
			}
		}
	}
}
