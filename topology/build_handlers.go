package topology

import (
	"fmt"
	"strings"
)

// declareHandler creates, updates or removes a handler. An entry naming an
// existing handler (ignoring case) changes that handler, so an override can
// add a subscription to IPTV without repeating IPTV's table.
func (b *builder) declareHandler(s handlerSpec) {
	what := fmt.Sprintf("handler %q", s.name)
	key := strings.ToLower(strings.TrimSpace(s.name))
	if key == "" {
		b.errorf(s.line, "handler: name is required")
		return
	}
	st, exists := b.handlers[key]
	if s.remove {
		if !exists {
			b.errorf(s.line, "%s: cannot remove an unknown handler", what)
			return
		}
		for _, r := range b.rules {
			if strings.EqualFold(r.Via, st.h.Name) {
				b.errorf(s.line, "%s: cannot remove a processor that inheritance rules use", what)
				return
			}
		}
		delete(b.handlers, key)
		return
	}
	if !exists {
		if Slug(s.name) == "" {
			b.errorf(s.line, "%s: name needs at least one letter or digit for its topic", what)
			return
		}
		st = &handlerState{h: &Handler{Name: s.name}}
		b.handlers[key] = st
		b.order = append(b.order, key)
	}
	if s.processor != nil {
		if exists && *s.processor != st.h.Processor {
			b.errorf(s.line, "%s: processor cannot change for an existing handler", what)
		} else {
			st.h.Processor = *s.processor
		}
	}
	if s.example != nil {
		st.h.Example = *s.example
	}
	if s.description != "" {
		st.h.Description = s.description
	}
}

// subscribe applies a handler entry's unsubscribe list, then its
// subscriptions; in that order an override can turn an inherited row into a
// direct-only one by unsubscribing and subscribing again.
func (b *builder) subscribe(st *handlerState, s handlerSpec) {
	what := fmt.Sprintf("handler %q", st.h.Name)
	for _, u := range s.unsubscriptions {
		types, ok := b.resolve(what, u)
		if !ok {
			continue
		}
		drop := map[string]bool{}
		for _, t := range types {
			drop[t.Name] = true
		}
		kept := st.rows[:0]
		for _, r := range st.rows {
			if !drop[r.Canonical] {
				kept = append(kept, r)
			}
		}
		if len(kept) == len(st.rows) && !isGlob(u.event) {
			b.errorf(u.line, "%s: not subscribed to %q", what, u.event)
		}
		st.rows = kept
	}
	inheritable := map[string]bool{}
	for _, r := range b.rules {
		inheritable[r.To] = true
	}
	for _, sub := range s.subscriptions {
		types, ok := b.resolve(what, sub)
		if !ok {
			continue
		}
		if sub.inherited && !isGlob(sub.event) && !inheritable[types[0].Name] {
			b.errorf(sub.line, "%s: %q cannot be inherited: no inheritance rule produces it", what, sub.event)
			continue
		}
		for _, t := range types {
			r := Row{Handler: st.h.Name, EventType: t.Name, Canonical: t.Name,
				Inherited: sub.inherited && inheritable[t.Name]}
			if !isGlob(sub.event) {
				r.EventType = sub.event // keep the file's spelling (see Row)
			}
			if sub.description != t.Description {
				r.Description = sub.description
			}
			st.rows = append(st.rows, r)
		}
	}
}

// resolve expands a subscription entry into event types: a name or alias, or
// a glob over canonical names. Anything that resolves to nothing is an error,
// because an empty subscription is almost always a typo.
func (b *builder) resolve(what string, s subSpec) ([]*EventType, bool) {
	if !isGlob(s.event) {
		t, ok := b.index[Normalize(s.event)]
		if !ok {
			b.errorf(s.line, "%s: unknown event type %q", what, s.event)
			return nil, false
		}
		return []*EventType{t}, true
	}
	pattern := Normalize(s.event)
	var out []*EventType
	for _, t := range b.types {
		if GlobMatch(pattern, Normalize(t.Name)) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		b.errorf(s.line, "%s: %q matches no event type", what, s.event)
		return nil, false
	}
	sortTypes(out)
	return out, true
}
