package edge

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// The scanner replaces encoding/json on the ingest hot path; these tests
// hold it to encoding/json's answers, which the edges relied on before.

// elementsStd is Elements as it was, on encoding/json: the reference.
func elementsStd(body []byte) ([]json.RawMessage, error) {
	b := bytes.Trim(body, " \t\r\n") // JSON's white space, as encoding/json: not \f or U+00A0
	if len(b) == 0 {
		return nil, &Error{Problems: []Problem{{Error: MsgEmpty}}}
	}
	switch b[0] {
	case '{':
		if !json.Valid(b) {
			return nil, &Error{Problems: []Problem{{Error: MsgMalformed}}}
		}
		return []json.RawMessage{b}, nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(b, &items); err != nil {
			return nil, &Error{Problems: []Problem{{Error: MsgMalformed}}}
		}
		if len(items) == 0 {
			return nil, &Error{Problems: []Problem{{Error: MsgEmpty}}}
		}
		return items, nil
	}
	if json.Valid(b) {
		return nil, &Error{Problems: []Problem{{Error: "body must be a JSON object or an array of objects"}}}
	}
	return nil, &Error{Problems: []Problem{{Error: MsgMalformed}}}
}

// attrValueStd is AttrValue as it was.
func attrValueStd(raw json.RawMessage) string {
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		return buf.String()
	}
	return string(raw)
}

var scanSeeds = []string{
	``, ` `, `{}`, `[]`, `[ ]`, `{"a":1}`, `[{"a":1},{"b":[1,2,{"c":null}]}]`, ` [1, "x" , true,false,null] `,
	`{"a":"\u00e9\n\"","b":-0.5e+10,"c":1E3}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":.5}`, `{"a":1e}`,
	`{"a":"\x"}`, `{"a":"\u12G4"}`, "{\"a\":\"\x01\"}", `{"a" 1}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{a:1}`,
	`{"a":tru}`, `{"a":nul}`, `"str"`, `12`, `[[[]]]`, `{"a":"é"}`, "{\"a\":\"\xff\"}", "{\"\xff\":1}",
	`{"a":1}{"b":2}`, `{"a":1} x`, `[{"event_type":"Account/New","variables":{"i_account":"12","i_event":7}}]`,
	"\u00a0{}", "{}\u00a0", `{"a":"\ud800"}`, `{"k":"<&>"}`,
}

func FuzzScanMatchesEncodingJSON(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := valid(b), json.Valid(b); got != want {
			t.Fatalf("valid(%q) = %v, json.Valid %v", b, got, want)
		}
		got, gerr := Elements(b)
		want, werr := elementsStd(b)
		if !reflect.DeepEqual(gerr, werr) || len(got) != len(want) {
			t.Fatalf("Elements(%q) = %q, %v; encoding/json %q, %v", b, got, gerr, want, werr)
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("Elements(%q)[%d] = %q, encoding/json %q", b, i, got[i], want[i])
			}
		}
		// Every value the scanner can hand out, decoded both ways.
		for _, raw := range want {
			if a, s := AttrValue(raw), attrValueStd(raw); a != s {
				t.Fatalf("AttrValue(%q) = %q, encoding/json %q", raw, a, s)
			}
			if inner, ok := PlainString(raw); ok {
				var s string
				if err := json.Unmarshal(raw, &s); err != nil || s != string(inner) {
					t.Fatalf("PlainString(%q) = %q, encoding/json %q (%v)", raw, inner, s, err)
				}
			}
			ms, ok := Members(nil, raw)
			var m map[string]json.RawMessage
			werr := json.Unmarshal(raw, &m)
			if ok != (werr == nil && m != nil) {
				t.Fatalf("Members(%q) ok = %v, encoding/json %v", raw, ok, werr)
			}
			for _, mb := range ms {
				key := string(raw[mb.KeyStart:mb.KeyEnd])
				if !mb.PlainKey {
					continue
				}
				if _, found := m[key]; !found {
					t.Fatalf("Members(%q): key %q not in encoding/json's map", raw, key)
				}
			}
		}
	})
}

func TestScanDepthLimit(t *testing.T) {
	for _, n := range []int{maxDepth, maxDepth + 1} {
		b := []byte(strings.Repeat("[", n) + strings.Repeat("]", n))
		if got, want := valid(b), json.Valid(b); got != want {
			t.Errorf("depth %d: valid %v, json.Valid %v", n, got, want)
		}
	}
}

func TestMembersLastWins(t *testing.T) {
	raw := []byte(`{ "a" : 1 , "b":"x", "a":[2] }`)
	ms, ok := Members(nil, raw)
	if !ok || len(ms) != 3 {
		t.Fatalf("Members = %v, %v", ms, ok)
	}
	last := ms[2]
	if k, v := string(raw[last.KeyStart:last.KeyEnd]), string(raw[last.ValStart:last.ValEnd]); k != "a" || v != "[2]" {
		t.Fatalf("third member = %q: %q", k, v)
	}
}

func BenchmarkElements100(b *testing.B) {
	el := `{"event_type":"Account/Balance/Changed","variables":{"i_event":123456,"event_time":"2026-11-22 16:35:00","i_env":1,"i_account":4711,"i_customer":42,"balance":"12.50","currency":"EUR"}}`
	body := []byte("[" + strings.Repeat(el+",", 99) + el + "]")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Elements(body); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecodeStringMatchesEncodingJSON: attribute values and the keys of
// hash-identified events are decoded by hand; encoding/json is the
// reference, replacement characters included.
func FuzzDecodeStringMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{`"plain"`, `"\u00e9\u00E9"`, `"\ud83d\ude00"`, `"\ud800"`, `"\ud800x"`, `"\ud800\u0041"`,
		`"\udc00\ud800"`, `"\ud83d\ude00\ude00"`, `"\b\f\n\r\t\"\\\/"`, "\"\xff\xfe é\"", "\"\xed\xa0\x80\"", `"\u0000"`,
		`"unterminated`, `"a"b`, `""`, `"`, `"\x"`, `"\u12"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want string
		werr := json.Unmarshal(b, &want)
		got, ok := decodeString(b)
		if ok != (werr == nil && len(b) > 0 && b[0] == '"' && b[len(b)-1] == '"') || (ok && got != want) {
			t.Fatalf("decodeString(%q) = %q, %v; encoding/json %q, %v", b, got, ok, want, werr)
		}
	})
}
