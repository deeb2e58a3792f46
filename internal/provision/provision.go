// Package provision makes a cluster and a registry match the topology:
// it plans (topics to create, partitions to add, configs to alter, subjects
// to register) and applies the plan idempotently with kadm and the registry
// client. It never deletes a topic, never shrinks partitions and never
// relies on auto topic creation.
package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/provbus/provbus/internal/registry"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// Action is the kind of one change.
type Action string

// Actions a plan can hold.
const (
	CreateTopic     Action = "create topic"
	AddPartitions   Action = "add partitions"
	AlterConfig     Action = "alter config"
	RegisterSubject Action = "register subject"
	// Keep notes a difference provbus will not change (more partitions than
	// configured): listed so the operator sees it.
	Keep Action = "keep"
)

// Change is one step of a plan.
type Change struct {
	Action Action
	Target string // topic or subject
	Detail string
	spec   topology.TopicSpec
	key    string // config key, for AlterConfig
	value  string // config value, for AlterConfig
	schema string // schema text, for RegisterSubject
}

// Plan is what Apply would do; empty means the cluster matches.
type Plan struct{ Changes []Change }

// Empty reports whether there is nothing to change (Keep notes aside).
func (p Plan) Empty() bool {
	for _, c := range p.Changes {
		if c.Action != Keep {
			return false
		}
	}
	return true
}

// Write prints the plan, one change a line.
func (p Plan) Write(w io.Writer) error {
	if p.Empty() && len(p.Changes) == 0 {
		_, err := fmt.Fprintln(w, "no changes: the cluster matches the topology")
		return err
	}
	for _, c := range p.Changes {
		if _, err := fmt.Fprintf(w, "%-16s %-45s %s\n", c.Action, c.Target, c.Detail); err != nil {
			return err
		}
	}
	return nil
}

// Target is the cluster and registry to provision.
type Target struct {
	Admin    *kadm.Client
	Registry *sr.Client
	// ReplicationFactor for new topics.
	ReplicationFactor int16
}

// MakePlan compares the cluster and the registry with specs.
func MakePlan(ctx context.Context, t Target, specs []topology.TopicSpec) (Plan, error) {
	var plan Plan
	// List every topic rather than naming ours: one request either way, and
	// kfake answers a metadata request naming many topics incompletely.
	details, err := t.Admin.ListTopics(ctx)
	if err != nil {
		return plan, fmt.Errorf("list topics: %w", err)
	}
	var existing []string
	for _, s := range specs {
		d, ok := details[s.Name]
		if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			plan.Changes = append(plan.Changes, Change{Action: CreateTopic, Target: s.Name,
				Detail: fmt.Sprintf("partitions=%d replication=%d %s", s.Partitions, t.ReplicationFactor, configString(s.Configs)), spec: s})
			continue
		}
		if d.Err != nil {
			return plan, fmt.Errorf("describe topic %s: %w", s.Name, d.Err)
		}
		existing = append(existing, s.Name)
		switch have := int32(len(d.Partitions)); {
		case have < s.Partitions:
			plan.Changes = append(plan.Changes, Change{Action: AddPartitions, Target: s.Name, Detail: fmt.Sprintf("%d → %d", have, s.Partitions), spec: s})
		case have > s.Partitions:
			plan.Changes = append(plan.Changes, Change{Action: Keep, Target: s.Name, Detail: fmt.Sprintf("has %d partitions, configured %d: partitions are never removed", have, s.Partitions)})
		}
	}
	if len(existing) > 0 {
		if err := planConfigs(ctx, t, specs, existing, &plan); err != nil {
			return plan, err
		}
	}
	if err := planSubjects(ctx, t, specs, &plan); err != nil {
		return plan, err
	}
	return plan, nil
}

func planConfigs(ctx context.Context, t Target, specs []topology.TopicSpec, existing []string, plan *Plan) error {
	rcs, err := t.Admin.DescribeTopicConfigs(ctx, existing...)
	if err != nil {
		return fmt.Errorf("describe topic configs: %w", err)
	}
	have := map[string]map[string]string{}
	for _, rc := range rcs {
		if rc.Err != nil {
			return fmt.Errorf("describe configs of %s: %w", rc.Name, rc.Err)
		}
		m := map[string]string{}
		for _, c := range rc.Configs {
			if c.Value != nil {
				m[c.Key] = *c.Value
			}
		}
		have[rc.Name] = m
	}
	for _, s := range specs {
		cur, ok := have[s.Name]
		if !ok {
			continue
		}
		for _, k := range sortedKeys(s.Configs) {
			if want := s.Configs[k]; cur[k] != want {
				plan.Changes = append(plan.Changes, Change{Action: AlterConfig, Target: s.Name,
					Detail: fmt.Sprintf("%s: %q → %q", k, cur[k], want), key: k, value: want})
			}
		}
	}
	return nil
}

func planSubjects(ctx context.Context, t Target, specs []topology.TopicSpec, plan *Plan) error {
	for _, s := range specs {
		if !s.Avro {
			continue
		}
		text, err := schemas.ValueSchema(s.Logical)
		if err != nil {
			return err
		}
		subject := schemas.Subject(s.Name)
		d, err := Diff(ctx, t.Registry, subject, text)
		if err != nil {
			return err
		}
		if d.Registered {
			continue
		}
		if d.Incompatible != nil {
			return fmt.Errorf("subject %s: %w", subject, d.Incompatible)
		}
		detail := "new subject"
		if d.Versions > 0 {
			detail = fmt.Sprintf("new version after v%d (compatible: BACKWARD_TRANSITIVE)", d.Versions)
		}
		plan.Changes = append(plan.Changes, Change{Action: RegisterSubject, Target: subject, Detail: detail, schema: text})
	}
	return nil
}

// SubjectDiff is how a schema stands against what a registry holds.
type SubjectDiff struct {
	Versions     int   // versions the subject holds
	Registered   bool  // the schema is already one of them
	Incompatible error // non-nil when registering would break BACKWARD_TRANSITIVE; names the field
}

// Diff compares schema text with every version of subject, locally, with
// BACKWARD_TRANSITIVE: what the registry itself will enforce.
func Diff(ctx context.Context, reg *sr.Client, subject, text string) (SubjectDiff, error) {
	var d SubjectDiff
	all, err := reg.Schemas(ctx, subject)
	var re *sr.ResponseError
	if errors.As(err, &re) && re.StatusCode == 404 {
		return d, nil
	}
	if err != nil {
		return d, fmt.Errorf("read subject %s: %w", subject, err)
	}
	d.Versions = len(all)
	want, err := schemas.Parse(text)
	if err != nil {
		return d, err
	}
	existing := make([]string, 0, len(all))
	for _, s := range all {
		existing = append(existing, s.Schema.Schema)
		if have, err := schemas.Parse(s.Schema.Schema); err == nil && have.Fingerprint() == want.Fingerprint() {
			d.Registered = true
		}
	}
	if !d.Registered {
		d.Incompatible = registry.CheckCompatibility(sr.CompatBackwardTransitive, text, existing)
	}
	return d, nil
}

// Apply carries out plan. It is idempotent: a topic another process
// created meanwhile is not an error.
func Apply(ctx context.Context, t Target, plan Plan) error {
	for _, c := range plan.Changes {
		var err error
		switch c.Action {
		case CreateTopic:
			configs := map[string]*string{}
			for k, v := range c.spec.Configs {
				configs[k] = &v
			}
			var resp kadm.CreateTopicResponse
			resp, err = t.Admin.CreateTopic(ctx, c.spec.Partitions, t.ReplicationFactor, configs, c.Target)
			if err == nil {
				err = resp.Err
			}
			if errors.Is(err, kerr.TopicAlreadyExists) {
				err = nil
			}
		case AddPartitions:
			var resp kadm.CreatePartitionsResponses
			resp, err = t.Admin.UpdatePartitions(ctx, int(c.spec.Partitions), c.Target)
			if err == nil {
				err = resp.Error()
			}
		case AlterConfig:
			v := c.value
			var resp kadm.AlterConfigsResponses
			resp, err = t.Admin.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: c.key, Value: &v}}, c.Target)
			if err == nil {
				for _, r := range resp {
					if r.Err != nil {
						err = r.Err
					}
				}
			}
		case RegisterSubject:
			_, err = t.Registry.CreateSchema(ctx, c.Target, sr.Schema{Schema: c.schema, Type: sr.TypeAvro})
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", c.Action, c.Target, err)
		}
	}
	return nil
}

func configString(m map[string]string) string {
	s := ""
	for _, k := range sortedKeys(m) {
		s += k + "=" + m[k] + " "
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ClientOpts are the options the admin client of a Target needs: kgo
// answers metadata requests from a cache younger than MetadataMinAge
// (default 5 s), so a plan made right after an apply would see the topics
// as they were before it.
func ClientOpts() []kgo.Opt {
	return []kgo.Opt{kgo.MetadataMinAge(10 * time.Millisecond)}
}
