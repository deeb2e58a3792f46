package eventlog

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

func TestFilter(t *testing.T) {
	cat, err := topology.Default()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	acc := accountEvent("a1", "Account/Status/Closed", 42, 7, now)
	acc.IProduct = i64(3)
	inh := accountEvent("a2", "Account/BalanceChanged", 43, 7, now)
	inh.Origin, inh.ParentEventID, inh.InheritedFrom = schemas.OriginInherited, str("c1"), str(schemas.InheritedFromCustomer)
	sub := &schemas.Event{EventID: "t1", Source: "transatel", EventType: "CONNECTIVITY-MANAGEMENT/SUBSCRIBER/ACTIVATED", Origin: schemas.OriginDirect,
		MSISDN: str("+33600000001"), SIMSerial: str("8933000001")}
	js := &schemas.Event{EventID: "j1", Source: "jerasoft", EventType: "clients.create", Origin: schemas.OriginDirect, ObjectID: str("9"),
		Attributes: map[string]string{"name": "ACME"}}
	all := []*schemas.Event{acc, inh, sub, js}

	cases := []struct {
		name string
		f    Filter
		want []string
	}{
		{"none", Filter{}, []string{"a1", "a2", "t1", "j1"}},
		{"type exact", Filter{Types: []string{"Account/Status/Closed"}}, []string{"a1"}},
		{"type alias", Filter{Types: []string{"account/status/closed"}}, []string{"a1"}},
		{"type glob", Filter{Types: []string{"Account/*"}}, []string{"a1", "a2"}},
		{"type glob inner", Filter{Types: []string{"*/SUBSCRIBER/*"}}, []string{"t1"}},
		{"type repeated", Filter{Types: []string{"clients.*", "Account/BalanceChanged"}}, []string{"a2", "j1"}},
		{"origin direct", Filter{Origin: "direct"}, []string{"a1", "t1", "j1"}},
		{"origin inherited", Filter{Origin: "INHERITED"}, []string{"a2"}},
		{"customer", Filter{Customer: i64(7)}, []string{"a1", "a2"}},
		{"account", Filter{Account: i64(43)}, []string{"a2"}},
		{"product", Filter{Product: i64(3)}, []string{"a1"}},
		{"msisdn", Filter{MSISDN: str("+33600000001")}, []string{"t1"}},
		{"sim", Filter{SIM: str("8933000001")}, []string{"t1"}},
		{"object-id", Filter{ObjectID: str("9")}, []string{"j1"}},
		{"where envelope", Filter{Where: []string{"parent_event_id=c1"}}, []string{"a2"}},
		{"where id", Filter{Where: []string{"i_account=42"}}, []string{"a1"}},
		{"where attr", Filter{Where: []string{"attr.name=ACME"}}, []string{"j1"}},
		{"where not", Filter{Where: []string{"source!=portabilling"}}, []string{"t1", "j1"}},
		{"and", Filter{Customer: i64(7), Origin: "direct"}, []string{"a1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			if err := f.Compile(cat); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ev := range all {
				if f.Match(ev) {
					got = append(got, ev.EventID)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestFilterHeadersAndErrors(t *testing.T) {
	f := &Filter{Types: []string{"Account/*"}, Origin: "inherited"}
	if err := f.Compile(nil); err != nil {
		t.Fatal(err)
	}
	r := &kgo.Record{Headers: []kgo.RecordHeader{{Key: "event_type", Value: []byte("Account/X")}, {Key: "origin", Value: []byte("DIRECT")}}}
	if f.MatchHeaders(r) {
		t.Error("DIRECT header passed an inherited filter")
	}
	if !f.MatchHeaders(&kgo.Record{}) {
		t.Error("a record without headers must go on to decoding")
	}
	for _, bad := range []Filter{{Origin: "sideways"}, {Where: []string{"nofield=1"}}, {Where: []string{"event_id"}}} {
		if err := bad.Compile(nil); err == nil {
			t.Errorf("%+v compiled", bad)
		}
	}
}

func TestFilterInstance(t *testing.T) {
	eu, us := "eu", "us"
	f := &Filter{Instance: &eu}
	if err := f.Compile(nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		instance *string
		want     bool
	}{{&eu, true}, {&us, false}, {nil, false}} {
		if got := f.Match(&schemas.Event{Instance: tc.instance}); got != tc.want {
			t.Errorf("instance %v: %v, want %v", tc.instance, got, tc.want)
		}
	}
	if f.MatchHeaders(&kgo.Record{Headers: []kgo.RecordHeader{{Key: "instance", Value: []byte("us")}}}) {
		t.Error("instance header us passed --instance eu")
	}
	if !(&Filter{}).Match(&schemas.Event{Instance: &us}) {
		t.Error("no instance filter must match every instance")
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2024, 5, 8, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2024-05-01T10:00:00Z":      time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
		"2024-05-01T12:00:00+02:00": time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
		"2024-05-01":                time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
		"-24h":                      now.Add(-24 * time.Hour),
		"-7d":                       now.Add(-7 * 24 * time.Hour),
		"-1w":                       now.Add(-7 * 24 * time.Hour),
		"-90m":                      now.Add(-90 * time.Minute),
		"":                          {},
	} {
		got, err := ParseTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseTime("yesterday", now); err == nil {
		t.Error("ParseTime(yesterday) succeeded")
	}
}
