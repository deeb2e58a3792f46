package eventlog

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// Filter selects events. Every set part must match (AND); the zero Filter
// matches everything. Build it, then call Compile once before matching.
type Filter struct {
	// Types are event type names or globs ("Account/*", "*/Status/*"):
	// "*" matches any run of characters, "/" included, case is ignored.
	// A plain name may be any alias the catalog knows. Any one must match.
	Types []string
	// Origin is "direct" or "inherited" (any case), "" for both.
	Origin string
	// Entity filters compare with the typed ids.
	Customer, Account, Product *int64
	MSISDN, SIM, ObjectID      *string
	// Instance is the source installation (the instance header and
	// field); nil matches every instance, the default one included.
	Instance *string
	// Where are "field=value" or "field!=value" conditions on an envelope
	// field, a typed id, "payload" or "attr.<name>".
	Where []string

	types  []string        // lower-cased patterns and canonical names
	memo   map[string]bool // event_type → matches Types; few distinct types exist
	origin string
	where  []cond
}

type cond struct {
	field, value string
	negate       bool
}

// Compile validates f and prepares it for Match, resolving plain type names
// through cat (which may be nil) to their canonical spelling.
func (f *Filter) Compile(cat *topology.Catalog) error {
	f.types = f.types[:0]
	for _, t := range f.Types {
		if !strings.Contains(t, "*") && cat != nil {
			if et, ok := cat.Lookup(t); ok {
				t = et.Name
			}
		}
		f.types = append(f.types, strings.ToLower(strings.TrimSpace(t)))
	}
	f.memo = map[string]bool{}
	switch o := strings.ToUpper(f.Origin); o {
	case "", schemas.OriginDirect, schemas.OriginInherited:
		f.origin = o
	default:
		return fmt.Errorf("origin %q: want direct or inherited", f.Origin)
	}
	f.where = f.where[:0]
	for _, w := range f.Where {
		c, err := parseCond(w)
		if err != nil {
			return err
		}
		f.where = append(f.where, c)
	}
	return nil
}

func parseCond(s string) (cond, error) {
	var c cond
	name, value, ok := strings.Cut(s, "=")
	if !ok {
		return c, fmt.Errorf("--where %q: want field=value or field!=value", s)
	}
	if n, neg := strings.CutSuffix(name, "!"); neg {
		name, c.negate = n, true
	}
	c.field, c.value = strings.TrimSpace(name), value
	if !strings.HasPrefix(c.field, "attr.") && !isField(c.field) {
		return c, fmt.Errorf("--where %q: unknown field %q (envelope fields, typed ids, payload, or attr.<name> for an attribute)", s, c.field)
	}
	return c, nil
}

// MatchHeaders is the cheap pre-check on the event_type and origin headers
// every event record carries (design §2): false means the record cannot
// match and need not be decoded. Records without the headers pass.
func (f *Filter) MatchHeaders(r *kgo.Record) bool {
	if len(f.types) > 0 {
		if t, ok := records.Header(r, schemas.HeaderEventType); ok && !f.matchType(t) {
			return false
		}
	}
	if f.origin != "" {
		if o, ok := records.Header(r, schemas.HeaderOrigin); ok && o != f.origin {
			return false
		}
	}
	if f.Instance != nil {
		if i, ok := records.Header(r, schemas.HeaderInstance); ok && i != *f.Instance {
			return false
		}
	}
	return true
}

// Match reports whether ev passes every part of f.
func (f *Filter) Match(ev *schemas.Event) bool {
	if len(f.types) > 0 && !f.matchType(ev.EventType) {
		return false
	}
	if f.origin != "" && ev.Origin != f.origin {
		return false
	}
	if !eqInt(f.Customer, ev.ICustomer) || !eqInt(f.Account, ev.IAccount) || !eqInt(f.Product, ev.IProduct) ||
		!eqStr(f.MSISDN, ev.MSISDN) || !eqStr(f.SIM, ev.SIMSerial) || !eqStr(f.ObjectID, ev.ObjectID) ||
		!eqStr(f.Instance, ev.Instance) {
		return false
	}
	for _, c := range f.where {
		v, ok := Field(ev, c.field)
		if (ok && v == c.value) == c.negate {
			return false
		}
	}
	return true
}

func (f *Filter) matchType(t string) bool {
	if m, ok := f.memo[t]; ok {
		return m
	}
	lt := strings.ToLower(t)
	m := false
	for _, p := range f.types {
		if topology.GlobMatch(p, lt) {
			m = true
			break
		}
	}
	f.memo[t] = m
	return m
}

func eqInt(want, got *int64) bool { return want == nil || (got != nil && *got == *want) }
func eqStr(want, got *string) bool {
	return want == nil || (got != nil && *got == *want)
}

// ParseID parses an entity id flag value ("" is no filter).
func ParseID(name, s string) (*int64, error) {
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("--%s %q: want an integer id", name, s)
	}
	return &n, nil
}

// StringID returns a pointer to s, or nil for "" (no filter).
func StringID(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
