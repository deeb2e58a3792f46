package ingest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/provbus/provbus/schemas"
)

// TestImportEvents: bad lines are reported by number and skipped, good
// ones produced; a re-run yields the same event ids; Strict stops.
func TestImportEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	file := strings.Join([]string{
		`{"event":{"events_id":"clients.create","object_id":1},"data":{"name":"a"}}`,
		``,
		`{"event":{"events_id":"clients.create"`,
		`{"event":{"events_id":"dids.block","object_id":"d-2"},"data":{}}`,
		`{"event":{"events_id":"clients.teleport","object_id":3},"data":{}}`,
	}, "\n")
	var badLines []int
	opt := ImportOptions{BadLine: func(n int, _ error) { badLines = append(badLines, n) }}
	st, err := h.srv.ImportEvents(context.Background(), "jerasoft", strings.NewReader(file), opt)
	if !errors.Is(err, ErrBadLines) || st.Events != 2 || st.Quarantined != 1 || st.Bad != 1 || len(badLines) != 1 || badLines[0] != 3 {
		t.Fatalf("stats %+v bad %v err %v", st, badLines, err)
	}
	if _, err := h.srv.ImportEvents(context.Background(), "jerasoft", strings.NewReader(file), ImportOptions{}); !errors.Is(err, ErrBadLines) {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, r := range h.records("jerasoft.client", "jerasoft.did") {
		var ev schemas.Event
		h.decode(r, &ev)
		ids[ev.EventID]++
	}
	if len(ids) != 2 {
		t.Fatalf("re-run changed ids: %v", ids)
	}
	for id, n := range ids {
		if n != 2 {
			t.Errorf("id %s seen %d times, want 2", id, n)
		}
	}

	before := h.total()
	st, err = h.srv.ImportEvents(context.Background(), "jerasoft", strings.NewReader(file), ImportOptions{DryRun: true})
	if !errors.Is(err, ErrBadLines) || st.Events != 2 || h.total() != before {
		t.Fatalf("dry run: %+v %v, %d new records", st, err, h.total()-before)
	}
	st, err = h.srv.ImportEvents(context.Background(), "jerasoft", strings.NewReader(file), ImportOptions{Strict: true})
	if !errors.Is(err, ErrBadLines) || st.Lines != 3 {
		t.Fatalf("strict: %+v %v", st, err)
	}
}

// TestImportDirectory: one JSON record per row to DirectoryTopic, keyed
// by i_account; extra columns ignored; bad rows reported.
func TestImportDirectory(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	csv := "i_customer,name,i_account,i_product\r\n10,acme,100,5\r\n11,\"x, y\",101,\r\nzz,b,102,5\r\n"
	st, err := h.srv.ImportDirectory(context.Background(), strings.NewReader(csv), ImportOptions{})
	if !errors.Is(err, ErrBadLines) || st.Events != 2 || st.Bad != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	got := map[string]string{}
	for _, r := range h.records(DirectoryTopic) {
		got[string(r.Key)] = string(r.Value)
	}
	want := map[string]string{
		"100": `{"i_account":100,"i_customer":10,"i_product":5}`,
		"101": `{"i_account":101,"i_customer":11,"i_product":null}`,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("key %s: %s, want %s", k, got[k], v)
		}
	}
	if _, err := h.srv.ImportDirectory(context.Background(), strings.NewReader("a,b\n1,2\n"), ImportOptions{}); err == nil {
		t.Error("header without i_account accepted")
	}
}
