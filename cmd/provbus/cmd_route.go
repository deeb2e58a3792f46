package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/processors/route"
)

// Registered here rather than in main.go so the route command is one file.
func init() {
	commands["route"] = command{
		summary:     "router tools: backfill a handler added to the catalog from history",
		example:     "provbus route backfill --handler Huawei::PCRF --from 72h",
		subcommands: []string{"backfill"},
		run:         runRoute,
	}
}

const routeUsage = `usage: provbus route backfill --handler NAME --from TIME [flags]

Re-routes the history of every domain topic and portabilling.account.inherited,
from TIME up to now, to the topic of one handler only. Use it after adding a
handler (or a subscription) to the catalog and restarting provbus process with
it: the live router delivers new events, backfill delivers the past ones.

Backfill skips every event_id already in the handler's topic and every one it
wrote itself, so it never duplicates what the live router delivered, and
re-running it after an interruption resumes. Events it delivers are older than
what the live router may already have written, so per-key order holds only if
the handler's consumer starts after the backfill (see docs/routing.md).

TIME is RFC 3339 (2024-05-01T00:00:00Z), a date (2024-05-01, UTC) or a
duration ago (72h).

flags:
`

func runRoute(ctx context.Context, g *globals, args []string) error {
	if len(args) == 0 || args[0] != "backfill" {
		fmt.Print(routeUsage)
		return fmt.Errorf("%w: want backfill", errUsage)
	}
	fs := flag.NewFlagSet("route backfill", flag.ContinueOnError)
	name := fs.String("handler", "", "handler name as in the catalog, e.g. Huawei::PCRF (required)")
	fromFlag := fs.String("from", "", "earliest event time to re-route (required)")
	if err := parseFlags(fs, routeUsage, args[1:]); err != nil {
		return err
	}
	if *name == "" || *fromFlag == "" {
		return fmt.Errorf("%w: --handler and --from are required", errUsage)
	}
	from, err := parseSince(*fromFlag, time.Now())
	if err != nil {
		return err
	}
	e, codec, err := connect(ctx, g)
	if err != nil {
		return err
	}
	h, ok := e.catalog.Handler(*name)
	if !ok || h.Topic == "" {
		return fmt.Errorf("%w: %q is not a handler with a topic (provbus catalog handlers lists them)", errUsage, *name)
	}
	if err := records.Use(ctx, codec, h.Topic); err != nil {
		return err
	}
	cl, err := e.kafkaClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	start := time.Now()
	st, err := route.Backfill(ctx, cl, codec, e.catalog, e.namespace(), h, from)
	fmt.Printf("backfill %s from %s: %d read, %d routed, %d duplicates skipped, %d poison skipped (%s)\n",
		h.Topic, from.Format(time.RFC3339), st.Read, st.Routed, st.Duplicates, st.Poison, time.Since(start).Round(time.Millisecond))
	return err
}

// parseSince reads a point in time: RFC 3339, a date, or a duration ago.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%w: --from %q: want RFC 3339, YYYY-MM-DD or a duration", errUsage, s)
}
