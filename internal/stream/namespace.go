package stream

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/topology"
)

// WithNamespace runs the processor in the namespace of topics.prefix:
// processors keep naming topics as the design does, and the runner reads,
// writes, restores and checks the physical topics (default: none).
func WithNamespace(ns topology.Namespace) Option { return func(r *Runner) { r.ns = ns } }

// physical returns spec with every topic and the group id in ns: inside the
// runner every name is physical; processors see logical names only,
// through logically.
func (s Spec) physical(ns topology.Namespace) Spec {
	if ns == "" {
		return s
	}
	out := s
	// Environments sharing a cluster must not share consumer groups: a
	// restart in one would rebalance the other.
	out.Group = string(ns) + s.Group
	out.Inputs = make([]Input, len(s.Inputs))
	for i, in := range s.Inputs {
		in.Topic = ns.Topic(in.Topic)
		out.Inputs[i] = in
	}
	out.Outputs = ns.Topics(s.Outputs)
	out.CoPartitioned = ns.Topics(s.CoPartitioned)
	out.Tables = make([]Table, len(s.Tables))
	for i, t := range s.Tables {
		t.Changelog = ns.Topic(t.Changelog)
		out.Tables[i] = t
	}
	return out
}

// logically calls fn with rec named by its logical topic, and restores the
// physical name after: processors and tables compare topics with the
// design's names.
func logically(ns topology.Namespace, rec *kgo.Record, fn func() error) error {
	if ns == "" {
		return fn()
	}
	phys := rec.Topic
	rec.Topic, _ = ns.Logical(phys)
	err := fn()
	rec.Topic = phys
	return err
}
