// Package topology holds the provbus catalog as data (design §3): every
// domain topic, event type, handler, subscription and inheritance rule, loaded
// from the embedded catalog.yaml and an optional operator override file.
//
// The catalog is the single place the rest of provbus learns names from: the
// edges use it to canonicalise event types and pick domain topics, the
// dispatch processors read its inheritance rules, and the router asks it which
// handler topics receive an event. A *Catalog is immutable once loaded and
// safe for concurrent use.
package topology

import (
	_ "embed"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Source names an upstream system that sends events into provbus. It is the
// first part of every domain topic name.
type Source string

// The sources provbus has an ingest edge for.
const (
	SourcePortaBilling Source = "portabilling"
	SourceTransatel    Source = "transatel"
	SourceJeraSoft     Source = "jerasoft"
)

// Origin says whether an event was received from its source or produced by a
// dispatch processor from a parent event. It is the `origin` field of every
// record (design §2).
type Origin string

// The two origins of an event.
const (
	OriginDirect    Origin = "DIRECT"
	OriginInherited Origin = "INHERITED"
)

// Domain is one Kafka topic of facts for one source, and the typed id that
// keys its records.
type Domain struct {
	Name   string // e.g. "account"
	Source Source // e.g. SourcePortaBilling
	Topic  string // e.g. "portabilling.account"
	Key    string // typed id field name that keys records, e.g. "i_account"
}

// EventType is one event type a source can send, under its canonical name.
type EventType struct {
	Name        string   // canonical name, e.g. "Account/ID/Changed"
	Source      Source   // the system that emits it
	Domain      string   // name of its Domain within Source
	Topic       string   // the domain topic its records go to
	Aliases     []string // other accepted spellings, e.g. "Account/Id/Changed"
	Description string   // what happened, as the source documents it
	AppliesTo   string   // Transatel's "Applicable for" text; empty elsewhere
}

// Subscription is one event type a handler receives.
type Subscription struct {
	EventType string // canonical event type name
	Inherited bool   // also receives the INHERITED form (seed 000's "Y")
}

// Handler is a provisioning target (with its own handler topic) or a
// processor (no topic) and the event types it receives.
type Handler struct {
	Name          string
	Topic         string // HandlerTopic(Name); "" for processors
	Processor     bool   // a provbus processor, e.g. CustomerToAccountsDispatcher
	Example       bool   // shipped as an example, not taken from a source's documentation
	Description   string
	Subscriptions []Subscription // canonical, de-duplicated, in catalog order
}

// Inheritance is one rule of a dispatch processor: a parent event of type
// From becomes one event of type To per account of the parent entity.
type Inheritance struct {
	From string // canonical parent type, e.g. "Customer/Status/Closed"
	To   string // canonical inherited type, e.g. "Account/Status/Closed"
	Via  string // processor handler name, e.g. "CustomerToAccountsDispatcher"
	Kind string // "CUSTOMER" or "PRODUCT": the inherited_from record field
}

// Row is one subscription line exactly as the catalog files list it, before
// canonicalisation and de-duplication. Handler.Subscriptions is the form to
// route with; Row keeps the seed's own spelling so it can be checked against
// the seed.
type Row struct {
	Handler     string
	EventType   string // as written in the file (glob entries are expanded to canonical names)
	Canonical   string
	Inherited   bool
	Description string // the row's own wording where it differs from the type's
}

// Catalog is a loaded, validated catalog. The zero value is not usable; get
// one from Default or Load.
type Catalog struct {
	domains  []Domain
	derived  []Domain
	types    []*EventType             // sorted by source, then name
	index    map[string]*EventType    // Normalize(name or alias) -> type
	canon    map[string]*EventType    // exact canonical name -> type: the hot path's fast lane
	domainOf map[string]Domain        // canonical type -> domain
	handlers []*Handler               // sorted by name
	byName   map[string]*Handler      // strings.ToLower(name) -> handler
	rows     []Row                    // catalog order
	rules    []Inheritance            // catalog order
	ruleFrom map[string][]Inheritance // canonical From -> rules
	direct   map[string][]*Handler    // canonical type -> handlers with a topic
	inherit  map[string][]*Handler    // canonical type -> handlers with a topic and Inherited
}

// docs/catalog.md is the markdown rendering of the embedded catalog.
//go:generate go run ./internal/catalogdoc ../docs/catalog.md

// defaultFile is the catalog shipped with provbus; the file name appears in
// validation errors.
const defaultFile = "catalog.yaml"

//go:embed catalog.yaml
var defaultYAML []byte

// Default returns the embedded catalog. It parses the embedded file on every
// call, so callers that need it often should keep the result.
func Default() (*Catalog, error) {
	return Load("")
}

// Load returns the embedded catalog extended by the override file at
// overridePath (see docs/catalog-override.md); "" means no override.
// Validation errors name the file and line they come from.
func Load(overridePath string) (*Catalog, error) {
	b := newBuilder()
	base, err := parseFile(defaultFile, defaultYAML)
	if err != nil {
		return nil, err
	}
	if err := b.apply(base); err != nil {
		return nil, err
	}
	if overridePath != "" {
		data, err := os.ReadFile(overridePath)
		if err != nil {
			return nil, fmt.Errorf("catalog override: %w", err)
		}
		over, err := parseFile(overridePath, data)
		if err != nil {
			return nil, err
		}
		if err := b.apply(over); err != nil {
			return nil, err
		}
	}
	return b.finish()
}

// Lookup resolves a name or alias, ignoring case and white space, to its
// event type.
func (c *Catalog) Lookup(name string) (*EventType, bool) {
	// Records carry canonical names, so try those before paying for
	// Normalize's allocation.
	if t, ok := c.canon[name]; ok {
		return t, true
	}
	t, ok := c.index[Normalize(name)]
	return t, ok
}

// EventTypes returns every event type, sorted by source, then name. The
// slice is the caller's; the types it points to are shared and read-only.
func (c *Catalog) EventTypes() []*EventType {
	return append([]*EventType(nil), c.types...)
}

// Handlers returns every handler, processors included, sorted by name. The
// slice is the caller's; the handlers it points to are shared and read-only.
func (c *Catalog) Handlers() []*Handler {
	return append([]*Handler(nil), c.handlers...)
}

// Handler returns the handler with the given name, ignoring case.
func (c *Catalog) Handler(name string) (*Handler, bool) {
	h, ok := c.byName[strings.ToLower(strings.TrimSpace(name))]
	return h, ok
}

// Domains returns the domain topics, in catalog order.
func (c *Catalog) Domains() []Domain {
	return append([]Domain(nil), c.domains...)
}

// Derived returns the topics processors write besides handler topics (such as
// portabilling.account.inherited), in catalog order.
func (c *Catalog) Derived() []Domain {
	return append([]Domain(nil), c.derived...)
}

// DomainOf returns the domain of an event type given by any of its names.
func (c *Catalog) DomainOf(eventType string) (Domain, bool) {
	t, ok := c.Lookup(eventType)
	if !ok {
		return Domain{}, false
	}
	d, ok := c.domainOf[t.Name]
	return d, ok
}

// Inheritances returns every inheritance rule, in catalog order.
func (c *Catalog) Inheritances() []Inheritance {
	return append([]Inheritance(nil), c.rules...)
}

// InheritedFrom returns the rules whose From is the canonical form of
// parentType: what a dispatcher emits for one parent event.
func (c *Catalog) InheritedFrom(parentType string) []Inheritance {
	t, ok := c.Lookup(parentType)
	if !ok {
		return nil
	}
	return c.ruleFrom[t.Name]
}

// Subscribers returns the handlers with a topic that receive an event of the
// given type and origin: for OriginDirect every handler listing it, for
// OriginInherited those whose row is marked inherited. It sits on the router's
// hot path, so it is two map look-ups; the returned slice is shared and must
// not be modified.
func (c *Catalog) Subscribers(eventType string, origin Origin) []*Handler {
	t, ok := c.Lookup(eventType)
	if !ok {
		return nil
	}
	switch origin {
	case OriginDirect:
		return c.direct[t.Name]
	case OriginInherited:
		return c.inherit[t.Name]
	}
	return nil
}

// Rows returns every subscription row as the catalog files list it, in file
// order (see Row).
func (c *Catalog) Rows() []Row {
	return append([]Row(nil), c.rows...)
}

// sortTypes orders event types by source, then name, so listings are stable
// whatever order the files declare them in.
func sortTypes(ts []*EventType) {
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].Source != ts[j].Source {
			return ts[i].Source < ts[j].Source
		}
		return ts[i].Name < ts[j].Name
	})
}
