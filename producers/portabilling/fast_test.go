package portabilling

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/provbus/provbus/producers/edge"
)

// fastSeeds are what ESPF sends and the spellings parseFast must leave to
// parseGeneral: escaped and case-folded keys, duplicates, every id as a
// number, a string, null and a wrong type, event_time in each layout.
var fastSeeds = []string{
	`{"event_type":"Customer/Status/Suspend","variables":{"i_event":"123","i_customer":42,"i_env":3,"event_time":"2026-11-22 10:00:00"}}`,
	`[{"event_type":"Account/New","variables":{"i_event":1,"i_account":"7","i_customer":"1","i_product":2,"name":"Müller","x":{"a":[1, 2]},"b":true,"n":null}},{"event_type":"DID/New","variables":{"i_event":2,"number":15551234}}]`,
	`{"event_type":"Account/New","variables":{"i_event":9,"i_account":1.5,"event_time":"x"}}`,
	`{"event_type":"Account/New","variables":{"i_event":9,"i_account":"","event_time":"","number":""}}`,
	`{"event_type":"Account/New","variables":{"i_event":9,"i_account":null,"event_time":null,"number":null}}`,
	`{"event_type":"Account/New","variables":{"i_event":9,"i_account":1,"i_account":"2"}}`,
	`{"event_type":"Account/New","variables":{"i_event":9,"i_account":1},"variables":{"i_event":10}}`,
	`{"Event_Type":"Account/New","variables":{"i_event":9}}`,
	`{"event_type":"Account/New","VARIABLES":{"i_event":9}}`,
	`{"event\u005ftype":"Account/New","variables":{"i_event":9}}`,
	`{"event_type":"Account\/New","variables":{"i_event":"9\u0031","i_\u0061ccount":5}}`,
	`{"event_type":"Account/New","variables":{"i_event":9,"event_time":"2026-11-22T10:00:00+02:00"}}`,
	`{"event_type":"Account/New","variables":{"i_event":9,"event_time":20261122}}`,
	`{"event_type":"Account/New","variables":{"i_event":true}}`,
	`{"event_type":"Account/New","variables":{"i_event":-0,"i_env":"+5","number":1e3}}`,
	`{"event_type":"Account/New","variables":{"event_time":"2026-11-22 10:00:00"}}`,
	`{"event_type":"","variables":{"i_event":9}}`,
	`{"event_type":"Account/New","variables":{}}`,
	` { "event_type" : "Account/New" , "variables" : { "i_event" : 9 , "s" : "a\"b" } } `,
	`{"event_type":5,"variables":[]}`, `[]`, `null`, `{`, `[1,"a",{}]`,
}

// FuzzFastMatchesGeneral: whatever the body, Parse (fast path first)
// returns exactly what the general parser alone returns.
func FuzzFastMatchesGeneral(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	received := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		got, gerr := Parse(body, received)
		want, werr := edge.ParseElements(body, received, parseGeneral)
		if !reflect.DeepEqual(gerr, werr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("body %q:\nfast    %+v, %v\ngeneral %+v, %v", body, got, gerr, want, werr)
		}
	})
}

// TestFastTakesESPF guards the fast path's reason to exist: the bodies
// ESPF sends must not fall back to the general parser.
func TestFastTakesESPF(t *testing.T) {
	for _, s := range []string{fastSeeds[0], `{"event_type":"Account/New","variables":{"i_event":1,"i_account":"7","name":"Müller","x":{"a":1}}}`} {
		if _, ok := parseFast([]byte(s), time.Now()); !ok {
			t.Errorf("parseFast declined %s", s)
		}
	}
}

func benchBody(n int) []byte {
	el := `{"event_type":"Account/Balance/Changed","variables":{"i_event":123456,"event_time":"2026-11-22 16:35:00","i_env":1,"i_account":4711,"i_customer":42,"balance":"12.50","currency":"EUR"}}`
	if n == 1 {
		return []byte(el)
	}
	return []byte("[" + strings.Repeat(el+",", n-1) + el + "]")
}

func BenchmarkParse(b *testing.B) {
	for _, n := range []int{1, 100} {
		body := benchBody(n)
		for _, c := range []struct {
			name  string
			parse edge.ElementParser
		}{{"fast", parseElement}, {"general", parseGeneral}} {
			b.Run(c.name+"/"+map[int]string{1: "1", 100: "100"}[n], func(b *testing.B) {
				b.ReportAllocs()
				now := time.Now()
				for b.Loop() {
					if _, err := edge.ParseElements(body, now, c.parse); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
			})
		}
	}
}
