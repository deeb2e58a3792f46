package edge

import (
	"encoding/json"
	"testing"
)

func TestID(t *testing.T) {
	for raw, want := range map[string]int64{`42`: 42, `"42"`: 42, `-7`: -7} {
		v, err := ID(json.RawMessage(raw))
		if err != nil || v == nil || *v != want {
			t.Errorf("%s: %v %v", raw, v, err)
		}
	}
	for _, raw := range []string{``, `null`, `""`} {
		if v, err := ID(json.RawMessage(raw)); v != nil || err != nil {
			t.Errorf("%q: %v %v", raw, v, err)
		}
	}
	for _, raw := range []string{`1.5`, `"x"`, `{}`, `true`, `1e3`, `99999999999999999999`} {
		if _, err := ID(json.RawMessage(raw)); err == nil {
			t.Errorf("%s accepted", raw)
		}
	}
}

func TestCanonical(t *testing.T) {
	a, err := Canonical(json.RawMessage("{ \"b\": [1, 2.50], \"a\": {\"y\": \"<&>\", \"x\": null} }"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":{"x":null,"y":"<&>"},"b":[1,2.50]}`; string(a) != want {
		t.Errorf("got %s, want %s", a, want)
	}
}
