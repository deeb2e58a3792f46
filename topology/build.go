package topology

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// builder accumulates catalog files in order (the embedded catalog, then the
// override) and validates each entry against everything declared before it.
type builder struct {
	domains  []Domain
	derived  []Domain
	matchers []domainMatcher
	types    []*EventType
	index    map[string]*EventType // Normalize(name or alias) -> type
	handlers map[string]*handlerState
	order    []string // handler keys in declaration order
	rules    []Inheritance
	errs     []error
	file     string
}

type domainMatcher struct {
	domain  Domain
	pattern string // normalized
}

type handlerState struct {
	h    *Handler
	rows []Row
}

func newBuilder() *builder {
	return &builder{index: map[string]*EventType{}, handlers: map[string]*handlerState{}}
}

func (b *builder) errorf(line int, format string, args ...any) {
	b.errs = append(b.errs, &fileError{file: b.file, line: line, msg: fmt.Sprintf(format, args...)})
}

// apply adds one file. Sections are applied in dependency order, whatever
// their order in the file: handlers must exist before rules name them as
// "via", and rules before subscriptions can be checked for "inherited".
func (b *builder) apply(f *fileSpec) error {
	b.file, b.errs = f.name, nil
	for _, d := range f.domains {
		b.addDomain(d, false)
	}
	for _, d := range f.derived {
		b.addDomain(d, true)
	}
	for _, t := range f.eventTypes {
		b.addEventType(t)
	}
	for _, h := range f.handlers {
		b.declareHandler(h)
	}
	for _, r := range f.inheritance {
		b.addRule(r)
	}
	for _, h := range f.handlers {
		if st := b.handlers[strings.ToLower(h.name)]; st != nil && !h.remove {
			b.subscribe(st, h)
		}
	}
	return errors.Join(b.errs...)
}

func knownSource(s string) bool {
	switch Source(s) {
	case SourcePortaBilling, SourceTransatel, SourceJeraSoft:
		return true
	}
	return false
}

func (b *builder) addDomain(s domainSpec, derived bool) {
	what := fmt.Sprintf("domain %q", s.name)
	switch {
	case s.name == "" || s.topic == "" || s.key == "":
		b.errorf(s.line, "%s: name, topic and key are required", what)
		return
	case !knownSource(s.source):
		b.errorf(s.line, "%s: unknown source %q", what, s.source)
		return
	}
	for _, d := range append(b.domains, b.derived...) {
		if d.Topic == s.topic || (d.Source == Source(s.source) && d.Name == s.name) {
			b.errorf(s.line, "%s: already defined (topic %s)", what, d.Topic)
			return
		}
	}
	d := Domain{Name: s.name, Source: Source(s.source), Topic: s.topic, Key: s.key}
	if derived {
		b.derived = append(b.derived, d)
		return
	}
	b.domains = append(b.domains, d)
	for _, m := range s.match {
		b.matchers = append(b.matchers, domainMatcher{domain: d, pattern: Normalize(m)})
	}
}

// domainFor picks the domain of a new event type: the one named, or else the
// only domain of its source whose match patterns accept the name.
func (b *builder) domainFor(s eventTypeSpec) (Domain, error) {
	if s.domain != "" {
		for _, d := range b.domains {
			if d.Source == Source(s.source) && d.Name == s.domain {
				return d, nil
			}
		}
		return Domain{}, fmt.Errorf("unknown domain %q for source %s", s.domain, s.source)
	}
	var found []Domain
	key := Normalize(s.name)
	for _, m := range b.matchers {
		if m.domain.Source == Source(s.source) && GlobMatch(m.pattern, key) &&
			(len(found) == 0 || found[len(found)-1] != m.domain) {
			found = append(found, m.domain)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return Domain{}, fmt.Errorf("no %s domain matches it; set domain", s.source)
	}
	return Domain{}, fmt.Errorf("domains %s and %s both match it; set domain", found[0].Name, found[1].Name)
}

func (b *builder) addEventType(s eventTypeSpec) {
	what := fmt.Sprintf("event type %q", s.name)
	if strings.TrimSpace(s.name) == "" || isGlob(s.name) {
		b.errorf(s.line, "%s: a name without \"*\" is required", what)
		return
	}
	if t, ok := b.index[Normalize(s.name)]; ok {
		b.extendEventType(t, s)
		return
	}
	if !knownSource(s.source) {
		b.errorf(s.line, "%s: unknown source %q", what, s.source)
		return
	}
	d, err := b.domainFor(s)
	if err != nil {
		b.errorf(s.line, "%s: %v", what, err)
		return
	}
	t := &EventType{Name: s.name, Source: d.Source, Domain: d.Name, Topic: d.Topic,
		Description: s.description, AppliesTo: s.appliesTo, Aliases: []string{}}
	b.index[Normalize(s.name)] = t
	b.types = append(b.types, t)
	b.addAliases(t, s)
}

// extendEventType lets an override add aliases to, or re-describe, a type it
// does not own; moving it to another source or domain would silently re-route
// its records, so that is refused.
func (b *builder) extendEventType(t *EventType, s eventTypeSpec) {
	what := fmt.Sprintf("event type %q", s.name)
	if (s.source != "" && Source(s.source) != t.Source) || (s.domain != "" && s.domain != t.Domain) {
		b.errorf(s.line, "%s: already defined as %s/%s; its source and domain cannot change", what, t.Source, t.Domain)
		return
	}
	if s.description != "" {
		t.Description = s.description
	}
	if s.appliesTo != "" {
		t.AppliesTo = s.appliesTo
	}
	b.addAliases(t, s)
}

func (b *builder) addAliases(t *EventType, s eventTypeSpec) {
	for _, a := range s.aliases {
		key := Normalize(a)
		switch other, ok := b.index[key]; {
		case key == "" || isGlob(a):
			b.errorf(s.line, "event type %q: invalid alias %q", s.name, a)
		case ok && other != t:
			b.errorf(s.line, "event type %q: alias %q already names %q", s.name, a, other.Name)
		case !ok:
			b.index[key] = t
			t.Aliases = append(t.Aliases, a)
		default:
			// Same type: the alias only differs from a known name in case or
			// spacing, which Lookup ignores anyway; keep it for the docs.
			if a != t.Name && !contains(t.Aliases, a) {
				t.Aliases = append(t.Aliases, a)
			}
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (b *builder) addRule(s inheritanceSpec) {
	what := fmt.Sprintf("inheritance %q -> %q", s.from, s.to)
	from, okF := b.index[Normalize(s.from)]
	to, okT := b.index[Normalize(s.to)]
	via := b.handlers[strings.ToLower(s.via)]
	switch {
	case !okF:
		b.errorf(s.line, "%s: unknown event type %q", what, s.from)
	case !okT:
		b.errorf(s.line, "%s: unknown event type %q", what, s.to)
	case s.kind != "CUSTOMER" && s.kind != "PRODUCT":
		b.errorf(s.line, "%s: kind must be CUSTOMER or PRODUCT, not %q", what, s.kind)
	case via == nil || !via.h.Processor:
		b.errorf(s.line, "%s: via %q is not a processor handler", what, s.via)
	default:
		for _, r := range b.rules {
			if r.From == from.Name && r.To == to.Name {
				b.errorf(s.line, "%s: already defined", what)
				return
			}
		}
		b.rules = append(b.rules, Inheritance{From: from.Name, To: to.Name, Via: via.h.Name, Kind: s.kind})
	}
}

// finish freezes the builder into a Catalog and precomputes the look-up maps
// the hot path needs.
func (b *builder) finish() (*Catalog, error) {
	c := &Catalog{
		domains: b.domains, derived: b.derived, types: b.types, index: b.index,
		rules: b.rules, domainOf: map[string]Domain{}, byName: map[string]*Handler{},
		ruleFrom: map[string][]Inheritance{}, direct: map[string][]*Handler{}, inherit: map[string][]*Handler{},
	}
	sortTypes(c.types)
	c.canon = make(map[string]*EventType, len(c.types))
	for _, t := range c.types {
		c.canon[t.Name] = t
		for _, d := range c.domains {
			if d.Source == t.Source && d.Name == t.Domain {
				c.domainOf[t.Name] = d
			}
		}
	}
	for _, r := range c.rules {
		c.ruleFrom[r.From] = append(c.ruleFrom[r.From], r)
	}
	topics := map[string]string{}
	for _, key := range b.order {
		st := b.handlers[key]
		if st == nil {
			continue // removed by the override
		}
		h := st.h
		h.Subscriptions = dedupe(st.rows)
		if !h.Processor {
			h.Topic = HandlerTopic(h.Name)
			if other, ok := topics[h.Topic]; ok {
				return nil, fmt.Errorf("handlers %q and %q share topic %s; rename one", other, h.Name, h.Topic)
			}
			topics[h.Topic] = h.Name
		}
		c.handlers = append(c.handlers, h)
		c.byName[key] = h
		c.rows = append(c.rows, st.rows...)
	}
	sort.Slice(c.handlers, func(i, j int) bool { return c.handlers[i].Name < c.handlers[j].Name })
	for _, h := range c.handlers {
		if h.Processor {
			continue // processors read domain topics themselves
		}
		for _, s := range h.Subscriptions {
			c.direct[s.EventType] = append(c.direct[s.EventType], h)
			if s.Inherited {
				c.inherit[s.EventType] = append(c.inherit[s.EventType], h)
			}
		}
	}
	return c, nil
}

// dedupe folds rows naming the same canonical type (seed 000 lists
// ServiceAttribute/Changed twice for EventSender) into one subscription;
// a handler is inherited for a type if any of its rows says so.
func dedupe(rows []Row) []Subscription {
	subs := []Subscription{}
	at := map[string]int{}
	for _, r := range rows {
		if i, ok := at[r.Canonical]; ok {
			subs[i].Inherited = subs[i].Inherited || r.Inherited
			continue
		}
		at[r.Canonical] = len(subs)
		subs = append(subs, Subscription{EventType: r.Canonical, Inherited: r.Inherited})
	}
	return subs
}
