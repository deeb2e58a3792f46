package dispatch

import (
	"testing"

	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

func TestEventIDDeterministic(t *testing.T) {
	a := EventID("p1", 10, "Account/Status/Suspend")
	if a != EventID("p1", 10, "Account/Status/Suspend") || len(a) != 32 {
		t.Fatalf("id %q not stable or not 32 hex chars", a)
	}
	for _, other := range []string{EventID("p2", 10, "Account/Status/Suspend"), EventID("p1", 11, "Account/Status/Suspend"), EventID("p1", 10, "Account/Status/Closed")} {
		if other == a {
			t.Fatal("ids collide across parent, account or type")
		}
	}
}

func TestFanOut(t *testing.T) {
	cat, err := topology.Default()
	if err != nil {
		t.Fatal(err)
	}
	cust, prod := int64(1), int64(7)
	parent := &schemas.Event{EventID: "e1", Source: "portabilling", EventType: "Customer/Status/Suspend",
		Origin: schemas.OriginDirect, ICustomer: &cust, Attributes: map[string]string{"k": "v"}, Payload: "{}"}
	tests := []struct {
		name    string
		parent  *schemas.Event
		members []directory.Member
		want    []int64 // accounts, in order
		typ     string
		kind    string
	}{
		{"customer to two accounts", parent, []directory.Member{{Account: 10}, {Account: 11}}, []int64{10, 11}, "Account/Status/Suspend", "CUSTOMER"},
		{"no members, no events", parent, nil, nil, "", ""},
		{"product attribute", &schemas.Event{EventID: "e2", Source: "portabilling", EventType: "Product/ServiceAttribute/Changed", IProduct: &prod},
			[]directory.Member{{Account: 3}}, []int64{3}, "Account/ServiceAttribute/Changed", "PRODUCT"},
		{"not inherited type", &schemas.Event{EventID: "e3", EventType: "Customer/New", ICustomer: &cust},
			[]directory.Member{{Account: 3}}, nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FanOut(tt.parent, cat.InheritedFrom(tt.parent.EventType), tt.members)
			if len(got) != len(tt.want) {
				t.Fatalf("%d events, want %d", len(got), len(tt.want))
			}
			for i, ev := range got {
				switch {
				case *ev.IAccount != tt.want[i]:
					t.Errorf("event %d account %d, want %d", i, *ev.IAccount, tt.want[i])
				case ev.EventType != tt.typ || *ev.InheritedFrom != tt.kind || ev.Origin != schemas.OriginInherited:
					t.Errorf("event %d = %s %s %s", i, ev.EventType, *ev.InheritedFrom, ev.Origin)
				case *ev.ParentEventID != tt.parent.EventID || *ev.FanOutIndex != int32(i) || *ev.FanOutCount != int32(len(tt.want)):
					t.Errorf("event %d lineage = %s %d/%d", i, *ev.ParentEventID, *ev.FanOutIndex, *ev.FanOutCount)
				case ev.EventID != EventID(tt.parent.EventID, tt.want[i], tt.typ):
					t.Errorf("event %d id %s not derived", i, ev.EventID)
				case ev.ICustomer != tt.parent.ICustomer || ev.IProduct != tt.parent.IProduct:
					t.Errorf("event %d lost the parent's ids", i)
				}
			}
		})
	}
}
