package directory

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestApply(t *testing.T) {
	c := func(v int64) *int64 { return &v }
	yes, no := true, false
	tests := []struct {
		name string
		old  Row
		f    Fact
		want Row
		ch   []Change
	}{
		{"new account joins customer and product", Row{}, Fact{Account: 10, Customer: c(1), Product: c(7), Closed: &no},
			Row{Customer: 1, Product: 7},
			[]Change{{Kind: CustomerMembers, Owner: 1, Account: 10}, {Kind: ProductMembers, Owner: 7, Account: 10}}},
		{"no change, no rows", Row{Customer: 1, Product: 7}, Fact{Account: 10, Customer: c(1)}, Row{Customer: 1, Product: 7}, nil},
		{"move customer leaves old", Row{Customer: 1, Product: 7}, Fact{Account: 10, Customer: c(2)},
			Row{Customer: 2, Product: 7},
			[]Change{{Kind: CustomerMembers, Owner: 1, Account: 10, Leave: true}, {Kind: CustomerMembers, Owner: 2, Account: 10}}},
		{"product change", Row{Customer: 1, Product: 7}, Fact{Account: 10, Product: c(8)},
			Row{Customer: 1, Product: 8},
			[]Change{{Kind: ProductMembers, Owner: 7, Account: 10, Leave: true}, {Kind: ProductMembers, Owner: 8, Account: 10}}},
		{"close keeps and marks", Row{Customer: 1, Product: 7}, Fact{Account: 10, Closed: &yes},
			Row{Customer: 1, Product: 7, Closed: true},
			[]Change{{Kind: CustomerMembers, Owner: 1, Account: 10, Closed: true}, {Kind: ProductMembers, Owner: 7, Account: 10, Closed: true}}},
		{"closed before owner known", Row{}, Fact{Account: 10, Closed: &yes}, Row{Closed: true}, nil},
		{"closed account moves: still closed in new", Row{Customer: 1, Closed: true}, Fact{Account: 10, Customer: c(3)},
			Row{Customer: 3, Closed: true},
			[]Change{{Kind: CustomerMembers, Owner: 1, Account: 10, Leave: true}, {Kind: CustomerMembers, Owner: 3, Account: 10, Closed: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row, ch := Apply(tt.old, tt.f)
			if row != tt.want {
				t.Errorf("row = %+v, want %+v", row, tt.want)
			}
			if !reflect.DeepEqual(ch, tt.ch) {
				t.Errorf("changes = %+v\nwant      %+v", ch, tt.ch)
			}
		})
	}
}

// apply runs changes through the changelog encoding into a Members table,
// as a dispatcher would see them.
func apply(t *testing.T, m *Members, changes ...Change) {
	t.Helper()
	for _, c := range changes {
		r, _ := memberRecord(c)
		if err := m.Apply(0, r); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMembersMovesAndCloses(t *testing.T) {
	m := NewMembers()
	apply(t, m,
		Change{Owner: 1, Account: 11}, Change{Owner: 1, Account: 10}, Change{Owner: 2, Account: 20},
		Change{Owner: 1, Account: 10, Closed: true},                               // closed: kept, skipped
		Change{Owner: 2, Account: 20, Leave: true}, Change{Owner: 1, Account: 20}, // moved 2 → 1
	)
	got := m.Accounts(0, 1, nil)
	want := []Member{{Account: 11}, {Account: 20}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("customer 1 = %+v, want %+v", got, want)
	}
	if got := m.Accounts(0, 2, nil); len(got) != 0 {
		t.Fatalf("customer 2 = %+v, want none", got)
	}
	if m.Len() != 3 {
		t.Fatalf("rows = %d, want 3 (closed kept)", m.Len())
	}
}

func TestMembersLargeOwner(t *testing.T) {
	m := NewMembers()
	mp := m.part(0)
	for a := int64(1000); a > 0; a-- {
		mp.set(5, a, false, false)
	}
	for a := int64(2); a <= 1000; a += 2 {
		mp.set(5, a, true, false)
	}
	got := m.Accounts(0, 5, nil)
	if len(got) != 500 || got[0].Account != 1 || got[499].Account != 999 {
		t.Fatalf("got %d accounts, first %v last %v", len(got), got[0], got[len(got)-1])
	}
}

func TestWatermarkSet(t *testing.T) {
	m := NewMembers()
	set := func(key, v string) *kgo.Record { return &kgo.Record{Key: []byte(key), Value: []byte(v)} }
	ends := func(acc, snap int64) Ends {
		return Ends{TopicAccounts: {0: acc, 1: acc, 2: acc}, TopicSnapshot: {0: snap, 1: snap, 2: snap}}
	}
	// Two members' packed records, then a stale one from an earlier
	// assignment: watermarks only move up.
	for _, r := range []*kgo.Record{set("wm/off/0", "0=100:7,1=90:8"), set("wm/off/2", "2=80:9"), set("wm/off/1", "1=10:0,2=10:0")} {
		if err := m.Apply(3, r); err != nil {
			t.Fatal(err)
		}
	}
	if !m.reached(3, 3, ends(80, 7)) || m.reached(3, 3, ends(81, 7)) || m.reached(3, 3, ends(80, 8)) || m.reached(2, 1, ends(1, 0)) {
		t.Fatal("packed watermark bookkeeping wrong")
	}
	for _, bad := range []string{"0=x", "0=1", "0=1:x", "x=1:1"} {
		if err := m.Apply(3, set("wm/off/0", bad)); err == nil {
			t.Fatalf("bad packed watermark %q accepted", bad)
		}
	}
}
