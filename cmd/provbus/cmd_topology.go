package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/provbus/provbus/internal/provision"
)

func init() {
	commands["topology"] = command{
		summary:     "plan or apply the topics and subjects the catalog needs, or describe them as AsyncAPI (plan|apply|asyncapi)",
		example:     "provbus topology plan --brokers 127.0.0.1:9092\nprovbus topology asyncapi --out asyncapi.json",
		subcommands: []string{"plan", "apply", "asyncapi"},
		run:         runTopology,
	}
}

func runTopology(ctx context.Context, g *globals, args []string) error {
	if len(args) > 0 && args[0] == "asyncapi" {
		return runTopologyAsyncAPI(ctx, g, args[1:])
	}
	if len(args) == 0 || (args[0] != "plan" && args[0] != "apply") {
		return fmt.Errorf("%w: provbus topology plan|apply|asyncapi", errUsage)
	}
	fs := flag.NewFlagSet("topology "+args[0], flag.ContinueOnError)
	if err := parseFlagsArgs(fs, "", args[1:]); err != nil {
		return err
	}
	e, err := g.load()
	if err != nil {
		return err
	}
	defer e.log.Sync() //nolint:errcheck // best effort at exit
	plan, err := applyTopology(ctx, e, args[0] == "apply")
	if err != nil {
		return err
	}
	return plan.Write(os.Stdout)
}

// applyTopology plans the topology on e's cluster and, when apply is true,
// carries the plan out. `provbus dev` calls it at every start.
func applyTopology(ctx context.Context, e *env, apply bool) (provision.Plan, error) {
	cl, err := e.kafkaClient(provision.ClientOpts()...)
	if err != nil {
		return provision.Plan{}, err
	}
	defer cl.Close()
	if err := ping(ctx, cl, e.cfg.Kafka.Brokers); err != nil {
		return provision.Plan{}, err
	}
	reg, err := e.registryClient()
	if err != nil {
		return provision.Plan{}, err
	}
	target := provision.Target{Admin: kadm.NewClient(cl), Registry: reg, ReplicationFactor: int16(e.cfg.Topics.ReplicationFactor)}
	plan, err := provision.MakePlan(ctx, target, e.layout())
	if err != nil || !apply {
		return plan, err
	}
	if err := provision.Apply(ctx, target, plan); err != nil {
		return plan, err
	}
	return plan, nil
}
