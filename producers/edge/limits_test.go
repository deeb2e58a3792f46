package edge

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/provbus/provbus/schemas"
)

// shape is what Limits.Check looks at, measured by encoding/json's
// tokenizer: the reference the one-pass scan is held to.
type shape struct {
	array    bool
	elements int
	depth    int // of the deepest event: the event's own object is 1
	dupKeys  bool
	leaves   int // attributes of all events, as Flatten makes them
}

// leavesOf counts the attributes Flatten makes of a decoded value: one
// per non-object value and per empty object.
func leavesOf(v any) int {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return 1
	}
	n := 0
	for _, c := range m {
		n += leavesOf(c)
	}
	return n
}

func shapeOf(b []byte) (shape, bool) {
	if !json.Valid(b) {
		return shape{}, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var sh shape
	level := 0
	type frame struct {
		object bool
		keys   map[string]bool
		isKey  bool
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return shape{}, false
		}
		if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
			if level == 0 && d == '[' {
				sh.array = true
			} else if level == 1 && sh.array {
				sh.elements++
			}
			level++
			stack = append(stack, frame{object: d == '{', keys: map[string]bool{}, isKey: d == '{'})
			eventDepth := level
			if sh.array {
				eventDepth--
			}
			sh.depth = max(sh.depth, eventDepth)
			continue
		}
		if d, ok := tok.(json.Delim); ok {
			level--
			stack = stack[:len(stack)-1]
			_ = d
		} else if level == 1 && sh.array {
			sh.elements++
		}
		if n := len(stack); n > 0 && stack[n-1].object {
			top := &stack[n-1]
			if top.isKey {
				k, _ := tok.(string)
				if top.keys[k] {
					sh.dupKeys = true
				}
				top.keys[k] = true
			}
			top.isKey = !top.isKey
		}
	}
	var v any
	_ = json.Unmarshal(b, &v) // valid
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			sh.leaves += leavesOf(e)
		}
	case map[string]any:
		sh.leaves = leavesOf(v)
	}
	return sh, true
}

var small = Limits{MaxDepth: 4, MaxEvents: 3, MaxAttributes: 4, MaxAttributeBytes: 8, MaxRequestAttributes: 6}

// FuzzLimits holds Check to encoding/json's reading of the same body:
// every valid body over a limit is refused, with that limit's problem,
// and every body within them passes. Flatten is held to the recursive
// decode it replaced, and the parsers to not panicking on what passes.
func FuzzLimits(f *testing.F) {
	for _, s := range append(scanSeeds, `[{},{},{},{}]`, `[{},{},{}]`, `{"a":{"b":{"c":{}}}}`, `{"a":{"b":{"c":{"d":1}}}}`,
		`[{"a":{"b":{"c":1}}}]`, `[{"a":{"b":{"c":{"d":1}}}}]`, `{"a":[[[[1]]]]}`, `{"a":{"a":1},"a":null}`, `{"x":{}, "y":null, "z":[1,{"q":2}]}`,
		`[{"a":1,"b":2,"c":3},{"d":{},"e":[1,2],"f":{"g":null}}]`, `[{"a":1,"b":2,"c":3},{"d":{},"e":[1,2],"f":{"g":null}},7]`, `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":{"g":6}}`,
		`{"a":{"b":"\u00e9\n","c":"é"},"d":"\ud800"}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := small.Check(b)
		var bad *Error
		if err != nil && (!errors.As(err, &bad) || len(bad.Problems) != 1 || bad.Count() != 1) {
			t.Fatalf("Check(%q) = %v: want one problem", b, err)
		}
		sh, ok := shapeOf(b)
		if !ok {
			return // malformed: the parser names it
		}
		tooMany := sh.array && sh.elements > small.MaxEvents
		tooDeep := sh.depth > small.MaxDepth
		switch {
		case tooMany:
			if bad == nil || !strings.HasPrefix(bad.Problems[0].Error, MsgTooManyEvents) {
				t.Fatalf("Check(%q) = %v, want %s (%d elements)", b, err, MsgTooManyEvents, sh.elements)
			}
		case tooDeep:
			if bad == nil || !strings.HasPrefix(bad.Problems[0].Error, MsgTooDeep) {
				t.Fatalf("Check(%q) = %v, want %s (depth %d)", b, err, MsgTooDeep, sh.depth)
			}
		case sh.leaves > small.MaxRequestAttributes:
			if bad == nil || !strings.HasPrefix(bad.Problems[0].Error, MsgTooManyInRequest) {
				t.Fatalf("Check(%q) = %v, want %s (%d attributes)", b, err, MsgTooManyInRequest, sh.leaves)
			}
		case sh.dupKeys && bad != nil && strings.HasPrefix(bad.Problems[0].Error, MsgTooManyInRequest):
			// Check counts every member of duplicate keys, the decoded
			// map the last: Check may count more, never fewer.
		case err != nil:
			t.Fatalf("Check(%q) = %v, but the body is within the limits (%+v)", b, err, sh)
		}
		if sh.dupKeys || !IsObject(b) {
			return
		}
		got, want := map[string]string{}, map[string]string{}
		Flatten("p", b, got)
		flattenStd("p", b, want)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Flatten(%q) = %v, the recursive decode %v", b, got, want)
		}
	})
}

// flattenStd is Flatten as it was: a decode per level.
func flattenStd(prefix string, raw json.RawMessage, attrs map[string]string) {
	if !IsObject(raw) {
		if !IsNull(raw) && prefix != "" {
			attrs[prefix] = AttrValue(raw)
		}
		return
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		attrs[prefix] = AttrValue(raw)
		return
	}
	if len(m) == 0 && prefix != "" {
		attrs[prefix] = "{}"
		return
	}
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		flattenStd(key, v, attrs)
	}
}

// The limits hold at their value and refuse one past it: the twin that
// shows each check can fail.
func TestLimitsAtTheEdge(t *testing.T) {
	nest := func(n int) string { return strings.Repeat(`{"a":`, n-1) + `{}` + strings.Repeat(`}`, n-1) }
	for _, tc := range []struct {
		body string
		want string // "" = accepted
	}{
		{nest(4), ""},
		{nest(5), MsgTooDeep},
		{`[` + nest(4) + `]`, ""},
		{`[{},` + nest(5) + `]`, MsgTooDeep},
		{`[{},{},{}]`, ""},
		{`[{},{},{},{}]`, MsgTooManyEvents},
		{`[{},{},{},` + nest(9) + `]`, MsgTooManyEvents},
		{`{"a":`, ""}, // malformed: left to the parser
	} {
		err := small.Check([]byte(tc.body))
		var bad *Error
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want accepted", tc.body, err)
		case tc.want != "" && (!errors.As(err, &bad) || !strings.HasPrefix(bad.Problems[0].Error, tc.want)):
			t.Errorf("%s: %v, want %s", tc.body, err, tc.want)
		}
	}
	if err := small.Check([]byte(`[{},` + nest(5) + `]`)); err.(*Error).Problems[0].Index != 1 {
		t.Errorf("too deep names element %d, want 1", err.(*Error).Problems[0].Index)
	}

	// Flattened size: "abc.d"+"1" + "abc.e"+"[1,2]" + "f"+"{}" = 6+10+3.
	flat := Limits{MaxFlatBytes: 19}
	if err := flat.Check([]byte(`{"abc":{"d":1,"e":[1,2]},"f":{}}`)); err != nil {
		t.Errorf("19 flattened bytes: %v", err)
	}
	if err := flat.Check([]byte(`[{"abc":{"d":1,"e":[1,2]}},{"f":{}, "g":1}]`)); err == nil || !strings.Contains(err.Error(), MsgTooMuchFlattened) {
		t.Errorf("21 flattened bytes: %v, want %s", err, MsgTooMuchFlattened)
	}

	// Attributes of the request: small allows 6 over all its events;
	// lists and empty objects are one each.
	for _, tc := range []struct {
		body  string
		index int // of the element past the budget; -1 = accepted
	}{
		{`[{"a":1,"b":2,"c":3},{"d":{},"e":[1,2,3],"f":{"g":null}}]`, -1},
		{`[{"a":1,"b":2,"c":3},{"d":{},"e":[1,2,3],"f":{"g":null,"h":1}}]`, 1},
		{`[{"a":1,"b":2,"c":3},{"d":{},"e":[1,2,3]},{"f":{"g":null,"h":1}}]`, 2},
		{`{"a":1,"b":2,"c":{"d":3,"e":4},"f":{"g":5}}`, -1},
		{`{"a":1,"b":2,"c":{"d":3,"e":4},"f":{"g":5,"h":{}},"i":[]}`, 0},
	} {
		err := small.Check([]byte(tc.body))
		var bad *Error
		switch {
		case tc.index < 0 && err != nil:
			t.Errorf("%s: %v, want accepted", tc.body, err)
		case tc.index >= 0 && (!errors.As(err, &bad) || !strings.HasPrefix(bad.Problems[0].Error, MsgTooManyInRequest+": 7, at most 6") || bad.Problems[0].Index != tc.index):
			t.Errorf("%s: %v, want %s at element %d", tc.body, err, MsgTooManyInRequest, tc.index)
		}
	}

	ev := func(attrs map[string]string) schemas.Event { return schemas.Event{Attributes: attrs} }
	within := ev(map[string]string{"a": "12345678", "b": "", "c": "", "d": ""})
	if err := small.CheckEvents([]schemas.Event{within}); err != nil {
		t.Errorf("at the limits: %v", err)
	}
	err := small.CheckEvents([]schemas.Event{within, ev(map[string]string{"a": "", "b": "", "c": "", "d": "", "e": ""}),
		ev(map[string]string{"z": "123456789", "y": "123456789"})})
	var bad *Error
	if !errors.As(err, &bad) || bad.Count() != 3 {
		t.Fatalf("over the limits: %v", err)
	}
	want := []Problem{
		{Index: 1, Error: MsgTooManyAttributes + ": 5, at most 4"},
		{Index: 2, Field: "y", Error: MsgAttributeTooLong + ": 9 bytes, at most 8"},
		{Index: 2, Field: "z", Error: MsgAttributeTooLong + ": 9 bytes, at most 8"},
	}
	if !reflect.DeepEqual(bad.Problems, want) {
		t.Errorf("problems %+v, want %+v", bad.Problems, want)
	}
	if (Limits{}).OrDefault() != DefaultLimits {
		t.Errorf("zero Limits is not the defaults")
	}
}

// canonicalStd is Canonical as it was: decode into any, encode.
func canonicalStd(raw json.RawMessage) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// FuzzCanonicalMatchesEncodingJSON: hash-based event ids (JeraSoft, ESPF
// without i_event) must not change with the one-pass Canonical.
func FuzzCanonicalMatchesEncodingJSON(f *testing.F) {
	for _, s := range append(scanSeeds, `{"b":1,"a":{"d":[1,"x\u00e9",{"z":null,"y":true}],"c":"<&>"}}`, `{"a":1,"a":2}`,
		`{"\u0061":1,"a":2}`, `{"k":"\u2028\b\f\u007f\/"}`, `{"k":"é\u2028"}`, `["\u2029\u00e9"]`, `[1E3,-0,0.10]`, `{"":"","\u00e9":"é"}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		// The old code decoded the first value of a stream; Canonical is
		// only ever given one valid value.
		want, werr := canonicalStd(b)
		got, gerr := Canonical(b)
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("Canonical(%q) = %q, %v; encoding/json %q, %v", b, got, gerr, want, werr)
		}
	})
}
