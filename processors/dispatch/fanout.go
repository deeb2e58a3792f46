package dispatch

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// EventID is the deterministic id of the event inherited from parent
// event parentID by account as type eventType: the first 16 bytes of
// SHA-256("<parentID>\x00<account>\x00<eventType>"), in hex (32
// characters). A replay of the same parent therefore produces the same
// ids, and downstream de-duplication works (design §3, Lineage).
func EventID(parentID string, account int64, eventType string) string {
	var buf [128]byte
	b := append(buf[:0], parentID...)
	b = append(b, 0)
	b = strconv.AppendInt(b, account, 10)
	b = append(b, 0)
	b = append(b, eventType...)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Inherit builds the event account inherits from parent under rule, at
// position index of a fan-out of count. The parent's ids (i_customer,
// i_product, i_env), times, attributes and payload are carried over; the
// attributes map is shared with the parent, not copied.
func Inherit(parent *schemas.Event, rule topology.Inheritance, account int64, index, count int) schemas.Event {
	ev := schemas.Event{
		EventID:             EventID(parent.EventID, account, rule.To),
		Source:              parent.Source,
		EventType:           rule.To,
		OccurredAt:          parent.OccurredAt,
		ReceivedAt:          parent.ReceivedAt,
		OccurredAtEstimated: parent.OccurredAtEstimated,
		Origin:              schemas.OriginInherited,
		ParentEventID:       &parent.EventID,
		InheritedFrom:       &rule.Kind,
		FanOutIndex:         ptr(int32(index)),
		FanOutCount:         ptr(int32(count)),
		Instance:            parent.Instance,
		IEnv:                parent.IEnv,
		ICustomer:           parent.ICustomer,
		IProduct:            parent.IProduct,
		IAccount:            ptr(account),
		Attributes:          parent.Attributes,
		Payload:             parent.Payload,
	}
	return ev
}

// FanOut is the dispatchers' pure core: the inherited events of parent for
// every rule and every open member, in member order (members as
// directory.Members.Accounts returns them: sorted, closed ones already
// skipped). Zero events means the parent type inherits nothing or the
// owner has no open account. The processor streams the same events one by
// one instead of building this slice, so a 100 000-account fan-out needs no
// 100 000-event buffer.
func FanOut(parent *schemas.Event, rules []topology.Inheritance, members []directory.Member) []schemas.Event {
	out := make([]schemas.Event, 0, len(rules)*len(members))
	for _, rule := range rules {
		for i, m := range members {
			out = append(out, Inherit(parent, rule, m.Account, i, len(members)))
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
