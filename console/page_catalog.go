package console

import (
	"context"
	"net/http"
	"strings"

	"github.com/provbus/provbus/topology"
)

// maxQuery bounds the catalog search text.
const maxQuery = 200

func (s *Server) catalogPage(ctx context.Context, r *http.Request) (view, error) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if len(q) > maxQuery {
		return view{}, badRequest("q: at most %d characters", maxQuery)
	}
	match := func(fields ...string) bool {
		if q == "" {
			return true
		}
		lq := strings.ToLower(q)
		for _, f := range fields {
			if strings.Contains(strings.ToLower(f), lq) {
				return true
			}
		}
		return false
	}
	type handler struct {
		H         *topology.Handler
		Slug      string
		Inherited int
	}
	data := struct {
		Q        string
		Handlers []handler
		Types    []*topology.EventType
		Rules    []topology.Inheritance
		Domains  []topology.Domain
		NTypes   int
	}{Q: q}
	for _, h := range s.cat.Handlers() {
		subs := make([]string, 0, len(h.Subscriptions))
		n := 0
		for _, sub := range h.Subscriptions {
			subs = append(subs, sub.EventType)
			if sub.Inherited {
				n++
			}
		}
		if match(append([]string{h.Name, h.Topic, h.Description}, subs...)...) {
			slug := ""
			if h.Topic != "" {
				slug = topology.Slug(h.Name)
			}
			data.Handlers = append(data.Handlers, handler{h, slug, n})
		}
	}
	types := s.cat.EventTypes()
	data.NTypes = len(types)
	for _, t := range types {
		if match(append([]string{t.Name, string(t.Source), t.Topic, t.Description, t.AppliesTo}, t.Aliases...)...) {
			data.Types = append(data.Types, t)
		}
	}
	for _, rule := range s.cat.Inheritances() {
		if match(rule.From, rule.To, rule.Via, rule.Kind) {
			data.Rules = append(data.Rules, rule)
		}
	}
	for _, d := range append(s.cat.Domains(), s.cat.Derived()...) {
		if match(d.Name, string(d.Source), d.Topic, d.Key) {
			data.Domains = append(data.Domains, d)
		}
	}
	return view{tmpl: "catalog", title: "Catalog", data: data}, nil
}
