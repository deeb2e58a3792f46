package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/deliver"
	"github.com/provbus/provbus/internal/kclient"
	"github.com/provbus/provbus/schemas"
)

func init() {
	commands["deliver"] = command{
		summary:     "push handler topics to their HTTP connectors; status, pause, resume, skip, unblock, redrive",
		example:     "provbus deliver --config provbus.yaml\nprovbus deliver pause Huawei::PCRF\nprovbus deliver redrive --handler IPTV --status failed --from -24h",
		subcommands: []string{"status", "pause", "resume", "skip", "unblock", "redrive"},
		run:         runDeliver,
	}
}

const deliverUsage = `usage: provbus deliver [flags]                run the delivery of every handler with a url
       provbus deliver status [--since 24h]        per handler: delivered, retrying, failed, blocked, paused, lag
       provbus deliver pause HANDLER               maintenance mode: every instance stops sending
       provbus deliver resume HANDLER
       provbus deliver skip HANDLER KEY            give up the waiting or blocked event of a key
       provbus deliver unblock HANDLER KEY         send a blocked key's event again
       provbus deliver redrive --handler H [--from T --to T --account N --customer N --msisdn M --type T --status failed]

Handlers and their targets are configured under deliver.handlers (docs/deliver.md).

flags:
`

func runDeliver(ctx context.Context, g *globals, args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return runDeliverOp(ctx, g, args[0], args[1:])
	}
	fs := flag.NewFlagSet("deliver", flag.ContinueOnError)
	metricsAddr := fs.String("metrics", defaultDeliverMetrics, `serve /metrics and /healthz here ("off": not at all)`)
	noRestore := fs.Bool("no-restore", false, "testing only: do not restore waiting events (a restart loses them)")
	sessionTimeout := fs.Duration("session-timeout", 0, "consumer group session timeout (default 45s); a killed instance's partitions move after it")
	if err := parseFlags(fs, deliverUsage, args); err != nil {
		return err
	}
	e, err := g.load()
	if err != nil {
		return err
	}
	defer e.log.Sync() //nolint:errcheck // best effort at exit
	if *noRestore {
		fmt.Fprintln(os.Stderr, "provbus deliver: --no-restore: state restore OFF, waiting events are lost on restart")
	}
	return serveMetrics(ctx, e, *metricsAddr, func(ctx context.Context) error {
		return runDelivery(ctx, e, deliverFlags{noRestore: *noRestore, sessionTimeout: *sessionTimeout})
	})
}

// defaultDeliverMetrics is where `provbus deliver` serves /metrics: beside
// provbus process's 9464 and provbus ingest's 9465, on the loopback.
const defaultDeliverMetrics = "127.0.0.1:9466"

// deliverHandlers builds the configured handlers, refusing a name the
// catalog does not know (its topic would never exist).
func (e *env) deliverHandlers() ([]deliver.Handler, error) {
	var out []deliver.Handler
	names := make([]string, 0, len(e.cfg.Deliver.Handlers))
	for n := range e.cfg.Deliver.Handlers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if h, ok := e.catalog.Handler(n); !ok || h.Topic == "" {
			return nil, fmt.Errorf("deliver.handlers.%s: no handler topic of that name in the catalog", n)
		}
		h, err := deliver.HandlerFromConfig(n, e.cfg.Deliver.Handlers[n])
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// deliverFlags are `provbus deliver`'s tuning flags; zero values are the
// defaults (provbus dev uses them).
type deliverFlags struct {
	noRestore      bool
	sessionTimeout time.Duration
}

// runDelivery runs the configured handlers' delivery until ctx ends.
func runDelivery(ctx context.Context, e *env, f deliverFlags) error {
	handlers, err := e.deliverHandlers()
	if err != nil {
		return err
	}
	kopts, err := kclient.Opts(e.cfg.Kafka, e.log)
	if err != nil {
		return err
	}
	reg, err := e.registryClient()
	if err != nil {
		return err
	}
	if f.sessionTimeout > 0 {
		kopts = append(kopts, kgo.SessionTimeout(f.sessionTimeout), kgo.HeartbeatInterval(f.sessionTimeout/5))
	}
	return deliver.Run(ctx, deliver.Options{
		Kafka: kopts, Codec: schemas.NewCodec(reg, schemas.WithTopicPrefix(e.cfg.Topics.Prefix)),
		Namespace: e.namespace(), Log: e.log.Named("deliver"), Metrics: e.metrics, NoRestore: f.noRestore,
	}, handlers)
}

// deliverStatusWindow is how far back status counts delivered events, in
// the CLI (its default) and the console.
const deliverStatusWindow = 24 * time.Hour

// deliverAdmin is the operators' side of delivery for e's cluster, as
// by (who asks, for the control records): what the deliver subcommands and
// the console's handler actions both call.
func (e *env) deliverAdmin(by string) (deliver.Admin, error) {
	kopts, err := kclient.Opts(e.cfg.Kafka, nil)
	if err != nil {
		return deliver.Admin{}, err
	}
	reg, err := e.registryClient()
	if err != nil {
		return deliver.Admin{}, err
	}
	return deliver.Admin{Kafka: kopts, Namespace: e.namespace(), Codec: schemas.NewCodec(reg, schemas.WithTopicPrefix(e.cfg.Topics.Prefix)), By: by}, nil
}

func runDeliverOp(ctx context.Context, g *globals, op string, args []string) error {
	fs := flag.NewFlagSet("deliver "+op, flag.ContinueOnError)
	since := fs.Duration("since", deliverStatusWindow, "status: count deliveries over this window")
	handler := fs.String("handler", "", "redrive: the handler")
	from := fs.String("from", "", "redrive: failed at or after (RFC 3339, or a duration ago: 2h)")
	to := fs.String("to", "", "redrive: failed before (RFC 3339, or a duration ago)")
	account := fs.String("account", "", "redrive: only events of this i_account")
	customer := fs.String("customer", "", "redrive: only events of this i_customer")
	msisdn := fs.String("msisdn", "", "redrive: only events of this MSISDN")
	typ := fs.String("type", "", "redrive: only events of this type")
	status := fs.String("status", "failed", "redrive: events in this status (failed)")
	if err := parseFlagsArgs(fs, deliverUsage, args); err != nil {
		return err
	}
	e, err := g.load()
	if err != nil {
		return err
	}
	a, err := e.deliverAdmin(operator())
	if err != nil {
		return err
	}
	pos := fs.Args()
	need := func(n int, what string) error {
		if len(pos) != n {
			return fmt.Errorf("%w: provbus deliver %s %s", errUsage, op, what)
		}
		if _, ok := e.catalog.Handler(pos[0]); !ok {
			return fmt.Errorf("%w: unknown handler %q", errUsage, pos[0])
		}
		return nil
	}
	switch op {
	case "status":
		return deliverStatus(ctx, e, a, time.Now().Add(-*since))
	case "pause", "resume":
		if err := need(1, "HANDLER"); err != nil {
			return err
		}
		if err := a.SetPaused(ctx, pos[0], op == "pause"); err != nil {
			return err
		}
		fmt.Printf("%s: %sd (every instance follows within about a second)\n", pos[0], op)
		return nil
	case "skip", "unblock":
		if err := need(2, "HANDLER KEY"); err != nil {
			return err
		}
		do := a.Unblock
		if op == "skip" {
			do = a.Skip
		}
		row, err := do(ctx, pos[0], pos[1])
		if err != nil {
			return err
		}
		fmt.Printf("%s key %s: %s of event %s (attempt %d, %s) requested\n", pos[0], pos[1], op, row.EventID, row.Attempt, row.LastError)
		return nil
	case "redrive":
		if *handler == "" {
			return fmt.Errorf("%w: redrive needs --handler", errUsage)
		}
		if *status != "failed" {
			return fmt.Errorf("%w: --status: only failed events can be redriven", errUsage)
		}
		f := deliver.RedriveFilter{MSISDN: *msisdn, EventType: *typ}
		if f.From, err = parseWhen(*from); err != nil {
			return fmt.Errorf("%w: --from: %v", errUsage, err)
		}
		if f.To, err = parseWhen(*to); err != nil {
			return fmt.Errorf("%w: --to: %v", errUsage, err)
		}
		if f.Account, err = parseID(*account); err != nil {
			return fmt.Errorf("%w: --account: %v", errUsage, err)
		}
		if f.Customer, err = parseID(*customer); err != nil {
			return fmt.Errorf("%w: --customer: %v", errUsage, err)
		}
		n, err := a.Redrive(ctx, *handler, f)
		if err != nil {
			return err
		}
		fmt.Printf("%s: %d failed events sent again (same webhook-id)\n", *handler, n)
		return nil
	}
	return fmt.Errorf("%w: unknown deliver command %q", errUsage, op)
}

func deliverStatus(ctx context.Context, e *env, a deliver.Admin, since time.Time) error {
	var names []string
	for n := range e.cfg.Deliver.Handlers {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return fmt.Errorf("no handler is configured under deliver.handlers")
	}
	st, err := a.Status(ctx, names, since)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "HANDLER\tDELIVERED\tRETRYING\tQUEUED\tBLOCKED\tFAILED\tPAUSED\tOLDEST PENDING\tLAG")
	for _, s := range st {
		oldest := "-"
		if !s.OldestPending.IsZero() {
			oldest = time.Since(s.OldestPending).Round(time.Second).String()
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%v\t%s\t%d\n", s.Handler, s.Delivered, s.Retrying, s.Queued, s.Blocked, s.Failed, s.Paused, oldest, s.Lag)
	}
	fmt.Fprintf(w, "(delivered since %s)\n", since.UTC().Format(time.RFC3339))
	return w.Flush()
}

func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	return time.Parse(time.RFC3339, s)
}

func parseID(s string) (*int64, error) {
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%q is not a number", s)
	}
	return &n, nil
}

// operator names who asked, for the control records and the logs.
func operator() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}
