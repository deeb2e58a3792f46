package eventlog

import (
	"fmt"
	"sort"
	"strings"

	"github.com/provbus/provbus/topology"
)

// Selection names the topics to read. The parts add up: every topic named
// by any of them is read once.
type Selection struct {
	Topics   []string // exact topic names
	Handlers []string // handler names (any case): their handler topics
	Sources  []string // "portabilling", …: the source's domain and derived topics
	Domains  []string // "account" or "portabilling.account": the domain's topic
}

// Empty reports whether s names nothing.
func (s Selection) Empty() bool {
	return len(s.Topics)+len(s.Handlers)+len(s.Sources)+len(s.Domains) == 0
}

// Resolve returns the sorted, de-duplicated topic names s selects in cat.
// Names the catalog does not know are errors here, so a typo fails before
// any broker is asked; exact --topic names are checked against the cluster
// by Plan.
func (s Selection) Resolve(cat *topology.Catalog) ([]string, error) {
	set := map[string]bool{}
	for _, t := range s.Topics {
		set[t] = true
	}
	for _, name := range s.Handlers {
		h, ok := cat.Handler(name)
		if !ok {
			return nil, fmt.Errorf("%w: handler %q is not in the catalog", ErrUnknownTopic, name)
		}
		if h.Topic == "" {
			return nil, fmt.Errorf("%w: %s is a processor and has no handler topic", ErrUnknownTopic, h.Name)
		}
		set[h.Topic] = true
	}
	all := append(cat.Domains(), cat.Derived()...)
	for _, src := range s.Sources {
		found := false
		for _, d := range all {
			if strings.EqualFold(string(d.Source), src) {
				set[d.Topic], found = true, true
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: source %q has no domain topics", ErrUnknownTopic, src)
		}
	}
	for _, name := range s.Domains {
		found := false
		for _, d := range all {
			if strings.EqualFold(d.Topic, name) || strings.EqualFold(d.Name, name) {
				set[d.Topic], found = true, true
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: domain %q is not in the catalog", ErrUnknownTopic, name)
		}
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, ErrNoTopics
	}
	return out, nil
}
