package topology

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Format is an output format of Write.
type Format string

// The formats Write renders.
const (
	FormatTable    Format = "table"    // aligned columns for a terminal
	FormatJSON     Format = "json"     // the stable shape scripts rely on (see WriteJSON)
	FormatMarkdown Format = "markdown" // the form docs/catalog.md is generated in
)

// ParseFormat validates a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatTable, FormatJSON, FormatMarkdown:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q (want table, json or markdown)", s)
}

// Section selects parts of the catalog to write.
type Section uint8

// The sections of a rendering; SectionAll is all three.
const (
	SectionHandlers Section = 1 << iota
	SectionEventTypes
	SectionInheritance
	SectionAll = SectionHandlers | SectionEventTypes | SectionInheritance
)

// Selection narrows what Write renders. The zero value selects nothing;
// use Selection{Sections: SectionAll} for the whole catalog.
type Selection struct {
	Sections Section
	// Handler, if set, keeps only that handler and the event types it
	// subscribes to.
	Handler string
	// EventType, if set, keeps only that type, the handlers that receive it
	// (with only that subscription) and the rules it takes part in.
	EventType string
}

// view is a selection resolved against the catalog: what every format
// renders, so the formats cannot disagree about content.
type view struct {
	c        *Catalog
	handlers []*Handler
	types    []*EventType
	rules    []Inheritance
	sections Section
	handler  *Handler   // set when one handler was asked for
	event    *EventType // set when one event type was asked for
}

func (c *Catalog) view(sel Selection) (*view, error) {
	v := &view{c: c, handlers: c.handlers, types: c.types, rules: c.rules, sections: sel.Sections}
	if sel.Handler != "" {
		h, ok := c.Handler(sel.Handler)
		if !ok {
			return nil, fmt.Errorf("unknown handler %q", sel.Handler)
		}
		v.handler, v.handlers, v.types, v.rules = h, []*Handler{h}, nil, nil
		for _, s := range h.Subscriptions {
			v.types = append(v.types, c.index[Normalize(s.EventType)])
		}
		sortTypes(v.types)
		for _, r := range c.rules {
			if strings.EqualFold(r.Via, h.Name) {
				v.rules = append(v.rules, r)
			}
		}
	}
	if sel.EventType != "" {
		t, ok := c.Lookup(sel.EventType)
		if !ok {
			return nil, fmt.Errorf("unknown event type %q", sel.EventType)
		}
		v.event, v.types, v.rules = t, []*EventType{t}, nil
		var hs []*Handler
		for _, h := range v.handlers {
			for _, s := range h.Subscriptions {
				if s.EventType == t.Name {
					only := *h
					only.Subscriptions = []Subscription{s}
					hs = append(hs, &only)
				}
			}
		}
		v.handlers = hs
		for _, r := range c.rules {
			if r.From == t.Name || r.To == t.Name {
				v.rules = append(v.rules, r)
			}
		}
	}
	return v, nil
}

// Write renders the selected part of the catalog in format f.
func (c *Catalog) Write(w io.Writer, f Format, sel Selection) error {
	v, err := c.view(sel)
	if err != nil {
		return err
	}
	switch f {
	case FormatJSON:
		return v.writeJSON(w)
	case FormatMarkdown:
		return v.writeMarkdown(w)
	case FormatTable:
		return v.writeTable(w)
	}
	return fmt.Errorf("unknown format %q", f)
}

// WriteJSON writes the whole catalog as
// {"handlers":[{"name","topic","subscriptions":[{"event_type","inherited"}]}],
// "event_types":[{"name","source","domain","topic","aliases","description"}],
// "inheritance":[{"from","to","via"}]}. Scripts depend on this shape: add
// nothing to it without changing the docs and the changelog.
func (c *Catalog) WriteJSON(w io.Writer) error {
	return c.Write(w, FormatJSON, Selection{Sections: SectionAll})
}

// WriteMarkdown writes the whole catalog as the reference page
// docs/catalog.md.
func (c *Catalog) WriteMarkdown(w io.Writer) error {
	return c.Write(w, FormatMarkdown, Selection{Sections: SectionAll})
}

// WriteTable writes the whole catalog as aligned text tables.
func (c *Catalog) WriteTable(w io.Writer) error {
	return c.Write(w, FormatTable, Selection{Sections: SectionAll})
}

type jsonCatalog struct {
	Handlers    *[]jsonHandler     `json:"handlers,omitempty"`
	EventTypes  *[]jsonEventType   `json:"event_types,omitempty"`
	Inheritance *[]jsonInheritance `json:"inheritance,omitempty"`
}

type jsonHandler struct {
	Name          string             `json:"name"`
	Topic         string             `json:"topic"`
	Subscriptions []jsonSubscription `json:"subscriptions"`
}

type jsonSubscription struct {
	EventType string `json:"event_type"`
	Inherited bool   `json:"inherited"`
}

type jsonEventType struct {
	Name        string   `json:"name"`
	Source      Source   `json:"source"`
	Domain      string   `json:"domain"`
	Topic       string   `json:"topic"`
	Aliases     []string `json:"aliases"`
	Description string   `json:"description"`
}

type jsonInheritance struct {
	From string `json:"from"`
	To   string `json:"to"`
	Via  string `json:"via"`
}

func (v *view) writeJSON(w io.Writer) error {
	// Sections not selected are left out; selected ones are always present,
	// as [] when empty, so scripts never have to tell null from [].
	var out jsonCatalog
	if v.sections&SectionHandlers != 0 {
		hs := []jsonHandler{}
		for _, h := range v.handlers {
			jh := jsonHandler{Name: h.Name, Topic: h.Topic, Subscriptions: []jsonSubscription{}}
			for _, s := range h.Subscriptions {
				jh.Subscriptions = append(jh.Subscriptions, jsonSubscription(s))
			}
			hs = append(hs, jh)
		}
		out.Handlers = &hs
	}
	if v.sections&SectionEventTypes != 0 {
		ts := []jsonEventType{}
		for _, t := range v.types {
			ts = append(ts, jsonEventType{Name: t.Name, Source: t.Source, Domain: t.Domain,
				Topic: t.Topic, Aliases: append([]string{}, t.Aliases...), Description: t.Description})
		}
		out.EventTypes = &ts
	}
	if v.sections&SectionInheritance != 0 {
		rs := []jsonInheritance{}
		for _, r := range v.rules {
			rs = append(rs, jsonInheritance{From: r.From, To: r.To, Via: r.Via})
		}
		out.Inheritance = &rs
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // descriptions hold "<=0"; keep them readable
	return enc.Encode(out)
}
