package topology

import (
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"
)

// The spec types mirror the YAML file one to one and remember the line each
// entry starts on, so that validation, which runs after parsing, can still
// point an operator at the offending line.

type fileSpec struct {
	name        string // file name used in error messages
	domains     []domainSpec
	derived     []domainSpec
	eventTypes  []eventTypeSpec
	inheritance []inheritanceSpec
	handlers    []handlerSpec
}

type domainSpec struct {
	line                                  int
	name, source, topic, key, description string
	match                                 []string
}

type eventTypeSpec struct {
	line                                         int
	name, source, domain, description, appliesTo string
	aliases                                      []string
}

type inheritanceSpec struct {
	line                int
	from, to, via, kind string
}

type handlerSpec struct {
	line                           int
	name, description              string
	processor, example             *bool // nil: not given
	remove                         bool
	subscriptions, unsubscriptions []subSpec
}

type subSpec struct {
	line        int
	event       string
	inherited   bool
	description string
}

// fileError is an error at a line of a catalog file; it prints as
// "file:line: message", the form editors and CI logs link to.
type fileError struct {
	file string
	line int
	msg  string
}

func (e *fileError) Error() string { return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg) }

// parser walks a yaml.Node tree. It collects errors instead of stopping at
// the first, so one run shows an operator everything wrong with a file.
type parser struct {
	file string
	errs []error
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, &fileError{file: p.file, line: n.Line, msg: fmt.Sprintf(format, args...)})
}

func parseFile(name string, data []byte) (*fileSpec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f := &fileSpec{name: name}
	if len(doc.Content) == 0 {
		return f, nil // an empty override changes nothing
	}
	p := &parser{file: name}
	p.mapping(doc.Content[0], "catalog", func(key string, v *yaml.Node) bool {
		switch key {
		case "version":
			if p.str(v) != "1" {
				p.errorf(v, "unsupported catalog version %q (want 1)", v.Value)
			}
		case "domains":
			p.seq(v, func(n *yaml.Node) { f.domains = append(f.domains, p.domain(n)) })
		case "derived_topics":
			p.seq(v, func(n *yaml.Node) { f.derived = append(f.derived, p.domain(n)) })
		case "event_types":
			p.seq(v, func(n *yaml.Node) { f.eventTypes = append(f.eventTypes, p.eventType(n)) })
		case "inheritance":
			p.seq(v, func(n *yaml.Node) { f.inheritance = append(f.inheritance, p.inheritance(n)) })
		case "handlers":
			p.seq(v, func(n *yaml.Node) { f.handlers = append(f.handlers, p.handler(n)) })
		default:
			return false
		}
		return true
	})
	return f, errors.Join(p.errs...)
}

// mapping calls fn for each key of a mapping node; fn returns false for a key
// it does not know, which is reported with its line rather than ignored, so a
// typo such as "subscribtions" cannot silently drop a handler's events.
func (p *parser) mapping(n *yaml.Node, what string, fn func(key string, v *yaml.Node) bool) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: expected a mapping", what)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			p.errorf(k, "%s: duplicate key %q", what, k.Value)
			continue
		}
		seen[k.Value] = true
		if !fn(k.Value, v) {
			p.errorf(k, "%s: unknown key %q", what, k.Value)
		}
	}
}

func (p *parser) seq(n *yaml.Node, fn func(*yaml.Node)) {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "expected a list")
		return
	}
	for _, c := range n.Content {
		fn(c)
	}
}

func (p *parser) str(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "expected a string")
		return ""
	}
	return n.Value
}

func (p *parser) boolean(n *yaml.Node) bool {
	var b bool
	if err := n.Decode(&b); err != nil {
		p.errorf(n, "expected true or false, got %q", n.Value)
	}
	return b
}

func (p *parser) strs(n *yaml.Node) []string {
	var out []string
	p.seq(n, func(c *yaml.Node) { out = append(out, p.str(c)) })
	return out
}

func (p *parser) domain(n *yaml.Node) domainSpec {
	d := domainSpec{line: n.Line}
	p.mapping(n, "domain", func(key string, v *yaml.Node) bool {
		switch key {
		case "name":
			d.name = p.str(v)
		case "source":
			d.source = p.str(v)
		case "topic":
			d.topic = p.str(v)
		case "key":
			d.key = p.str(v)
		case "description":
			d.description = p.str(v)
		case "match":
			d.match = p.strs(v)
		default:
			return false
		}
		return true
	})
	return d
}

func (p *parser) eventType(n *yaml.Node) eventTypeSpec {
	t := eventTypeSpec{line: n.Line}
	p.mapping(n, "event type", func(key string, v *yaml.Node) bool {
		switch key {
		case "name":
			t.name = p.str(v)
		case "source":
			t.source = p.str(v)
		case "domain":
			t.domain = p.str(v)
		case "description":
			t.description = p.str(v)
		case "applies_to":
			t.appliesTo = p.str(v)
		case "aliases":
			t.aliases = p.strs(v)
		default:
			return false
		}
		return true
	})
	return t
}

func (p *parser) inheritance(n *yaml.Node) inheritanceSpec {
	r := inheritanceSpec{line: n.Line}
	p.mapping(n, "inheritance rule", func(key string, v *yaml.Node) bool {
		switch key {
		case "from":
			r.from = p.str(v)
		case "to":
			r.to = p.str(v)
		case "via":
			r.via = p.str(v)
		case "kind":
			r.kind = p.str(v)
		default:
			return false
		}
		return true
	})
	return r
}

func (p *parser) handler(n *yaml.Node) handlerSpec {
	h := handlerSpec{line: n.Line}
	p.mapping(n, "handler", func(key string, v *yaml.Node) bool {
		switch key {
		case "name":
			h.name = p.str(v)
		case "description":
			h.description = p.str(v)
		case "processor":
			b := p.boolean(v)
			h.processor = &b
		case "example":
			b := p.boolean(v)
			h.example = &b
		case "remove":
			h.remove = p.boolean(v)
		case "subscriptions":
			p.seq(v, func(c *yaml.Node) { h.subscriptions = append(h.subscriptions, p.sub(c)) })
		case "unsubscribe":
			p.seq(v, func(c *yaml.Node) { h.unsubscriptions = append(h.unsubscriptions, p.sub(c)) })
		default:
			return false
		}
		return true
	})
	return h
}

// sub reads a subscription entry: a bare event type (or glob) is a DIRECT
// subscription, the mapping form carries the inherited flag.
func (p *parser) sub(n *yaml.Node) subSpec {
	s := subSpec{line: n.Line}
	if n.Kind == yaml.ScalarNode {
		s.event = n.Value
		return s
	}
	p.mapping(n, "subscription", func(key string, v *yaml.Node) bool {
		switch key {
		case "event":
			s.event = p.str(v)
		case "inherited":
			s.inherited = p.boolean(v)
		case "description":
			s.description = p.str(v)
		default:
			return false
		}
		return true
	})
	return s
}
