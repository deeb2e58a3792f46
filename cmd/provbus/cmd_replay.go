package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/provbus/provbus/internal/eventlog"
	"github.com/provbus/provbus/schemas"
)

// Registered here rather than in main.go so each command is one file.
func init() {
	commands["replay"] = command{
		summary: "print (or re-publish) the events of a time window of topics",
		example: "provbus replay --source portabilling --from -24h --format parquet --out day.parquet\nprovbus replay --handler IPTV --from 2024-05-01 --account 1042",
		run:     runReplay,
	}
}

const replayUsage = `usage: provbus replay (--topic T | --handler NAME | --source S | --domain D)... [flags]

Reads a time window of the selected topics, seeking to --from with ListOffsets
by timestamp (never scanning from the start), decodes and filters the events
and prints them, or re-publishes the matching records byte for byte with
--to-topic. See docs/analysts.md.

flags:
`

// listFlag is a repeatable string flag; a value may also be a comma list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// readFlags are the selection, filter and output flags replay, tail and
// history share, so the three read the same way.
type readFlags struct {
	sel                                                  eventlog.Selection
	types, where                                         listFlag
	origin, customer, account, product, msisdn, sim, obj string
	from, to                                             string
	format, out, attrs                                   string
	instance                                             string
}

// registerSelection adds the topic selection flags.
func (f *readFlags) registerSelection(fs *flag.FlagSet) {
	fs.Var((*listFlag)(&f.sel.Topics), "topic", "topic to read (repeatable)")
	fs.Var((*listFlag)(&f.sel.Handlers), "handler", "handler whose topic to read, e.g. IPTV (repeatable)")
	fs.Var((*listFlag)(&f.sel.Sources), "source", "read every domain topic of a source: portabilling, transatel, jerasoft (repeatable)")
	fs.Var((*listFlag)(&f.sel.Domains), "domain", "domain topic by name (account) or topic (portabilling.account) (repeatable)")
}

// registerFilters adds the event filters; entity reports whether the
// entity filters are wanted (history takes the entity as its subject).
func (f *readFlags) registerFilters(fs *flag.FlagSet, entity bool) {
	fs.Var(&f.types, "type", "event type or glob, e.g. 'Account/Status/*' (repeatable; any matches)")
	fs.StringVar(&f.origin, "origin", "", "direct or inherited")
	fs.StringVar(&f.instance, "instance", "", "only events of this source instance (installation), e.g. pb-eu")
	fs.Var(&f.where, "where", "field=value or field!=value on an envelope field, typed id or attr.<name> (repeatable; all must hold)")
	if entity {
		fs.StringVar(&f.customer, "customer", "", "only events of this i_customer")
		fs.StringVar(&f.account, "account", "", "only events of this i_account")
		fs.StringVar(&f.product, "product", "", "only events of this i_product")
		fs.StringVar(&f.msisdn, "msisdn", "", "only events of this MSISDN")
		fs.StringVar(&f.sim, "sim", "", "only events of this SIM serial (ICCID)")
		fs.StringVar(&f.obj, "object-id", "", "only events of this JeraSoft object_id")
	}
}

// registerOutput adds --format, --out and --attrs.
func (f *readFlags) registerOutput(fs *flag.FlagSet, defFormat string) {
	fs.StringVar(&f.format, "format", defFormat, "ndjson, csv, table, parquet or avro (parquet and avro need --out or a pipe)")
	fs.StringVar(&f.out, "out", "", "write to this file instead of stdout")
	fs.StringVar(&f.attrs, "attrs", "", "CSV: comma list of attribute columns (default: every attribute seen, discovered over the whole output)")
}

func (f *readFlags) filter(e *env) (*eventlog.Filter, error) {
	flt := &eventlog.Filter{Types: f.types, Origin: f.origin, Where: f.where,
		MSISDN: eventlog.StringID(f.msisdn), SIM: eventlog.StringID(f.sim), ObjectID: eventlog.StringID(f.obj),
		Instance: eventlog.StringID(f.instance)}
	var err error
	if flt.Customer, err = eventlog.ParseID("customer", f.customer); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if flt.Account, err = eventlog.ParseID("account", f.account); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if flt.Product, err = eventlog.ParseID("product", f.product); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := flt.Compile(e.catalog); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return flt, nil
}

func (f *readFlags) window() (eventlog.Window, error) {
	now := time.Now()
	from, err := eventlog.ParseTime(f.from, now)
	if err != nil {
		return eventlog.Window{}, fmt.Errorf("%w: --from: %v", errUsage, err)
	}
	to, err := eventlog.ParseTime(f.to, now)
	if err != nil {
		return eventlog.Window{}, fmt.Errorf("%w: --to: %v", errUsage, err)
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return eventlog.Window{}, fmt.Errorf("%w: --from %s is not before --to %s", errUsage, f.from, f.to)
	}
	return eventlog.Window{From: from, To: to}, nil
}

// output opens --out (or stdout) and the writer over it; close flushes the
// writer's file. stream makes a CSV stream (tail).
func (f *readFlags) output(topics []string, stream, cause bool) (eventlog.Writer, func() error, error) {
	var w io.Writer = os.Stdout
	closeFile := func() error { return nil }
	if f.out == "" && eventlog.Binary(f.format) && eventlog.IsTerminal(os.Stdout) {
		return nil, nil, fmt.Errorf("%w: --format %s writes a binary file: give --out FILE", errUsage, f.format)
	}
	if f.out != "" {
		file, err := os.Create(f.out)
		if err != nil {
			return nil, nil, fmt.Errorf("--out: %w", err)
		}
		w, closeFile = file, file.Close
	}
	o := eventlog.WriterOptions{Topics: topics, Stream: stream, Cause: cause}
	if f.attrs != "" {
		var l listFlag
		l.Set(f.attrs)
		o.Attrs = l
	}
	wr, err := eventlog.NewWriter(f.format, w, o)
	if err != nil {
		closeFile()
		return nil, nil, fmt.Errorf("%w: --format: %v", errUsage, err)
	}
	return wr, closeFile, nil
}

// connect loads the environment, checks a broker answers and returns the
// registry codec: the common start of every read command.
func connect(ctx context.Context, g *globals) (*env, *schemas.Codec, error) {
	e, err := g.load()
	if err != nil {
		return nil, nil, err
	}
	cl, err := e.kafkaClient()
	if err != nil {
		return nil, nil, err
	}
	err = ping(ctx, cl, e.cfg.Kafka.Brokers)
	cl.Close()
	if err != nil {
		return nil, nil, err
	}
	rc, err := e.registryClient()
	if err != nil {
		return nil, nil, err
	}
	return e, schemas.NewCodec(rc, schemas.WithTopicPrefix(e.cfg.Topics.Prefix)), nil
}

func runReplay(ctx context.Context, g *globals, args []string) error {
	var f readFlags
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	f.registerSelection(fs)
	fs.StringVar(&f.from, "from", "", "window start: RFC 3339, YYYY-MM-DD or relative (-24h, -7d); default the start of each partition")
	fs.StringVar(&f.to, "to", "", "window end (exclusive), same forms; default now")
	f.registerFilters(fs, true)
	f.registerOutput(fs, eventlog.FormatNDJSON)
	toTopic := fs.String("to-topic", "", "re-publish the matching records (same key, value, headers) to this existing topic")
	quiet := fs.Bool("quiet", false, "no progress bar and no summary line")
	if err := parseFlags(fs, replayUsage, args); err != nil {
		return err
	}
	r, err := f.prepare(ctx, g)
	if err != nil {
		return err
	}
	e, codec, win, topics, flt := r.env, r.codec, r.window, r.topics, r.filter
	p := &eventlog.Pipeline{Codec: codec, Window: win, Filter: flt}
	closeOut := func() error { return nil }
	// With --to-topic the records go to Kafka; print them too only when
	// asked for a file.
	if *toTopic == "" || f.out != "" {
		if p.Out, closeOut, err = f.output(topics, false, false); err != nil {
			return err
		}
	}
	if *toTopic != "" {
		if p.Repub, err = eventlog.NewRepublisher(ctx, e.kafkaClient, e.namespace().Topic(*toTopic)); err != nil {
			closeOut()
			return err
		}
		defer p.Repub.Close()
	}
	prog, stop := new(eventlog.Progress), func() {}
	if !*quiet && eventlog.IsTerminal(os.Stderr) {
		stop = eventlog.ShowProgress(os.Stderr, "replay", prog)
	}
	err = eventlog.Replay(ctx, e.kafkaClient, r.physical, p, prog)
	stop()
	err = errors.Join(err, closeOut())
	if !*quiet {
		fmt.Fprintln(os.Stderr, eventlog.Summary("replay", p.Stats))
	}
	return err
}

// readRun is what replay and tail resolve from their flags before reading.
type readRun struct {
	env    *env
	codec  *schemas.Codec
	window eventlog.Window
	topics []string // logical: they decide the CSV columns
	// physical are topics in the cluster's namespace, for reading.
	physical []string
	filter   *eventlog.Filter
}

// prepare checks the selection, parses the window, connects, and resolves
// the topics and the filter.
func (f *readFlags) prepare(ctx context.Context, g *globals) (readRun, error) {
	if f.sel.Empty() {
		return readRun{}, fmt.Errorf("%w: select topics with --topic, --handler, --source or --domain", errUsage)
	}
	win, err := f.window()
	if err != nil {
		return readRun{}, err
	}
	e, codec, err := connect(ctx, g)
	if err != nil {
		return readRun{}, err
	}
	topics, err := f.sel.Resolve(e.catalog)
	if err != nil {
		return readRun{}, err
	}
	flt, err := f.filter(e)
	if err != nil {
		return readRun{}, err
	}
	return readRun{env: e, codec: codec, window: win, topics: topics, physical: e.namespace().Topics(topics), filter: flt}, nil
}
