package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/provbus/provbus/internal/eventlog"
)

func init() {
	commands["tail"] = command{
		summary: "follow the selected topics live, decoded and filtered (read_committed)",
		example: "provbus tail --domain account --type 'Account/Status/*'",
		run:     runTail,
	}
}

const tailUsage = `usage: provbus tail (--topic T | --handler NAME | --source S | --domain D)... [flags]

Prints new events of the selected topics as they are committed, until
interrupted (Ctrl-C). Same selection, filters and formats as replay; --from
starts earlier than now. See docs/analysts.md.

flags:
`

func runTail(ctx context.Context, g *globals, args []string) error {
	var f readFlags
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	f.registerSelection(fs)
	fs.StringVar(&f.from, "from", "", "start at this time (RFC 3339, YYYY-MM-DD or relative, e.g. -10m) instead of now")
	f.registerFilters(fs, true)
	f.registerOutput(fs, eventlog.FormatTable)
	if err := parseFlags(fs, tailUsage, args); err != nil {
		return err
	}
	r, err := f.prepare(ctx, g)
	if err != nil {
		return err
	}
	e, codec, win, topics, flt := r.env, r.codec, r.window, r.topics, r.filter
	// A live CSV cannot discover its columns at the end: it streams
	// with the --attrs columns only.
	out, closeOut, err := f.output(topics, true, false)
	if err != nil {
		return err
	}
	p := &eventlog.Pipeline{Codec: codec, Filter: flt, Out: out}
	err = eventlog.Follow(ctx, e.kafkaClient, r.physical, win.From, p)
	err = errors.Join(err, closeOut())
	fmt.Fprintln(os.Stderr, eventlog.Summary("tail", p.Stats))
	return err
}
