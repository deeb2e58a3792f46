package provision_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/provbus/provbus/internal/embedded"
	"github.com/provbus/provbus/internal/provision"
	"github.com/provbus/provbus/topology"
)

func setup(t *testing.T) (provision.Target, []topology.TopicSpec) {
	t.Helper()
	ctx := context.Background()
	c, err := embedded.Start(ctx, embedded.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Broker: true, Registry: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cl, err := kgo.NewClient(append(provision.ClientOpts(), kgo.SeedBrokers(c.Brokers()...))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	reg, err := sr.NewClient(sr.URLs(c.RegistryURL()))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := topology.Default()
	if err != nil {
		t.Fatal(err)
	}
	specs := cat.Layout(topology.LayoutOptions{Partitions: 3, ReplicationFactor: 1, MinInsyncReplicas: 1, HandlerRetention: 7 * 24 * time.Hour})
	return provision.Target{Admin: kadm.NewClient(cl), Registry: reg, ReplicationFactor: 1}, specs
}

func count(p provision.Plan, a provision.Action) int {
	n := 0
	for _, c := range p.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

func TestPlanApplyIsIdempotent(t *testing.T) {
	ctx := context.Background()
	target, specs := setup(t)
	plan, err := provision.MakePlan(ctx, target, specs)
	if err != nil {
		t.Fatal(err)
	}
	avro := 0
	for _, s := range specs {
		if s.Avro {
			avro++
		}
	}
	if got := count(plan, provision.CreateTopic); got != len(specs) {
		t.Fatalf("plan creates %d topics, want %d", got, len(specs))
	}
	if got := count(plan, provision.RegisterSubject); got != avro {
		t.Fatalf("plan registers %d subjects, want %d", got, avro)
	}
	if err := provision.Apply(ctx, target, plan); err != nil {
		t.Fatal(err)
	}
	again, err := provision.MakePlan(ctx, target, specs)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Empty() {
		var b strings.Builder
		again.Write(&b)
		t.Fatalf("second plan not empty:\n%s", b.String())
	}
	// The domain topics keep history forever, state topics are compacted.
	rcs, err := target.Admin.DescribeTopicConfigs(ctx, "portabilling.customer", topology.TopicDirectorySnapshot)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if rc.Name == "portabilling.customer" && c.Key == "retention.ms" && (c.Value == nil || *c.Value != "-1") {
				t.Errorf("portabilling.customer retention.ms = %v", c.Value)
			}
			if rc.Name == topology.TopicDirectorySnapshot && c.Key == "cleanup.policy" && (c.Value == nil || *c.Value != "compact") {
				t.Errorf("%s cleanup.policy = %v", rc.Name, c.Value)
			}
		}
	}
}

func TestPlanGrowsNeverShrinksAndFixesConfigs(t *testing.T) {
	ctx := context.Background()
	target, specs := setup(t)
	plan, _ := provision.MakePlan(ctx, target, specs)
	if err := provision.Apply(ctx, target, plan); err != nil {
		t.Fatal(err)
	}
	// Someone changed a managed config by hand.
	v := "1000"
	if _, err := target.Admin.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: &v}}, "portabilling.account"); err != nil {
		t.Fatal(err)
	}
	grown := append([]topology.TopicSpec(nil), specs...)
	for i := range grown {
		switch grown[i].Name {
		case "portabilling.customer":
			grown[i].Partitions = 6
		case "transatel.subscriber":
			grown[i].Partitions = 1
		}
	}
	plan, err := provision.MakePlan(ctx, target, grown)
	if err != nil {
		t.Fatal(err)
	}
	if count(plan, provision.AddPartitions) != 1 || count(plan, provision.Keep) != 1 || count(plan, provision.AlterConfig) != 1 {
		var b strings.Builder
		plan.Write(&b)
		t.Fatalf("unexpected plan:\n%s", b.String())
	}
	if err := provision.Apply(ctx, target, plan); err != nil {
		t.Fatal(err)
	}
	td, err := target.Admin.ListTopics(ctx, "portabilling.customer", "transatel.subscriber")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(td["portabilling.customer"].Partitions); n != 6 {
		t.Fatalf("portabilling.customer has %d partitions, want 6", n)
	}
	if n := len(td["transatel.subscriber"].Partitions); n != 3 {
		t.Fatalf("transatel.subscriber has %d partitions, want 3 (never shrunk)", n)
	}
}

func TestPlanRefusesIncompatibleSubject(t *testing.T) {
	ctx := context.Background()
	target, specs := setup(t)
	// A v1 that lacks event_id: provbus's schema, as a reader, cannot read
	// it, because event_id has no default.
	old := `{"type":"record","name":"PortabillingCustomerEvent","namespace":"io.provbus.v1","fields":[{"name":"source","type":"string"}]}`
	if _, err := target.Registry.CreateSchema(ctx, "portabilling.customer-value", sr.Schema{Schema: old, Type: sr.TypeAvro}); err != nil {
		t.Fatal(err)
	}
	_, err := provision.MakePlan(ctx, target, specs)
	if err == nil || !strings.Contains(err.Error(), "event_id") {
		t.Fatalf("err = %v, want an incompatibility naming event_id", err)
	}
}

func TestCommittedAVSCAreCurrent(t *testing.T) {
	cat, err := topology.Default()
	if err != nil {
		t.Fatal(err)
	}
	diffs, err := provision.StaleAVSC("../../schemas/avro", provision.SchemaLayout(cat))
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Fatalf("schemas/avro is stale (%s): run `go generate ./schemas`", strings.Join(diffs, ", "))
	}
}

// A cluster laid out before #18 (fact topics on the producer's clock) gets
// broker time from topology apply: the plan alters message.timestamp.type
// of every domain topic and of the directory snapshots, and nothing else.
func TestPlanSetsBrokerTimeOnExistingTopics(t *testing.T) {
	ctx := context.Background()
	target, specs := setup(t)
	const key = "message.timestamp.type"
	facts := map[string]bool{}
	before := make([]topology.TopicSpec, len(specs))
	for i, s := range specs {
		before[i] = s
		if _, ok := s.Configs[key]; !ok {
			continue
		}
		if s.Role != topology.RoleDomain && s.Logical != topology.TopicDirectorySnapshot {
			t.Errorf("%s (%s) gets %s: only fact topics should", s.Name, s.Role, key)
		}
		facts[s.Name] = true
		before[i].Configs = map[string]string{}
		for k, v := range s.Configs {
			if k != key {
				before[i].Configs[k] = v
			}
		}
	}
	if !facts["portabilling.account"] || !facts["portabilling.customer"] || !facts[topology.TopicDirectorySnapshot] {
		t.Fatalf("broker time on %v: the directory's and the dispatchers' inputs are missing", facts)
	}
	plan, _ := provision.MakePlan(ctx, target, before)
	if err := provision.Apply(ctx, target, plan); err != nil {
		t.Fatal(err)
	}
	plan, err := provision.MakePlan(ctx, target, specs)
	if err != nil {
		t.Fatal(err)
	}
	altered := map[string]bool{}
	for _, c := range plan.Changes {
		if c.Action != provision.AlterConfig || !strings.HasPrefix(c.Detail, key+":") {
			t.Errorf("unexpected change %s %s %s", c.Action, c.Target, c.Detail)
			continue
		}
		altered[c.Target] = true
	}
	if len(altered) != len(facts) {
		t.Errorf("plan alters %d topics' %s, want the %d fact topics", len(altered), key, len(facts))
	}
	if err := provision.Apply(ctx, target, plan); err != nil {
		t.Fatal(err)
	}
	rcs, err := target.Admin.DescribeTopicConfigs(ctx, "portabilling.account", topology.TopicDirectorySnapshot)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rcs {
		v, err := rc.Configs, rc.Err
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, c := range v {
			found = found || (c.Key == key && c.Value != nil && *c.Value == "LogAppendTime")
		}
		if !found {
			t.Errorf("%s: %s is not LogAppendTime after apply", rc.Name, key)
		}
	}
}
