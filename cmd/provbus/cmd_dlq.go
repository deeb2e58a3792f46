package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/dlq"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// Registered here rather than in main.go so the dlq command is one file.
func init() {
	commands["dlq"] = command{
		summary:     "list dead-lettered (or parked) records with their reasons, redrive fixed ones",
		example:     "provbus dlq list --reason unknown_schema\nprovbus dlq redrive --select 0:17,1:4 --dry-run",
		subcommands: []string{"list", "redrive"},
		run:         runDLQ,
	}
}

const dlqUsage = `usage: provbus dlq list    [flags]
       provbus dlq redrive (--select P:O,… | --all) [flags]

list prints the records of provbus.dlq (or a parking topic, --topic
handler.<slug>.parking) with the headers saying why they failed and where
they came from. redrive sends the selected records back to their source
topic, unchanged (original key, value and headers, plus
provbus.redriven_from), once the cause is fixed: a schema registered, a
catalog entry added, a handler bug fixed. With --decodable (the default),
records that still do not decode are left where they are and reported.

flags:
`

func runDLQ(ctx context.Context, g *globals, args []string) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "redrive") {
		fmt.Fprint(os.Stderr, dlqUsage)
		return fmt.Errorf("%w: want list or redrive", errUsage)
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("dlq "+sub, flag.ContinueOnError)
	topic := fs.String("topic", schemas.DLQTopic, "topic to read: provbus.dlq or a handler's parking topic")
	reason := fs.String("reason", "", "only records with this reason (not_wire_format, unknown_schema, undecodable, unroutable, handler_failed, …)")
	source := fs.String("source", "", "only records that came from this topic")
	limit := fs.Int("limit", 0, "list: at most this many records (0 = all)")
	format := fs.String("format", "table", "list: table or json")
	sel := fs.String("select", "", "redrive: comma list of partition:offset of the DLQ records to send back")
	all := fs.Bool("all", false, "redrive: every record matching --reason/--source")
	decodable := fs.Bool("decodable", true, "redrive: only records that now decode (their schema is known)")
	dryRun := fs.Bool("dry-run", false, "redrive: say what would be sent, send nothing")
	if err := parseFlags(fs, dlqUsage, args); err != nil {
		return err
	}
	picked, err := parseSelection(*sel)
	if err != nil {
		return err
	}
	if sub == "redrive" && len(picked) == 0 && !*all {
		return fmt.Errorf("%w: redrive needs --select or --all", errUsage)
	}
	e, codec, err := connect(ctx, g)
	if err != nil {
		return err
	}
	cl, err := e.kafkaClient(kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return err
	}
	defer cl.Close()
	// Names on the command line are logical; the cluster's are in its
	// namespace, and a DLQ header may hold either (processors record the
	// logical name, a subscriber the topic it read).
	ns := e.namespace()
	*topic = ns.Topic(*topic)
	if *source != "" {
		*source = physical(ns, *source)
	}
	var entries []dlq.Entry
	err = readToEnd(ctx, cl, *topic, func(r *kgo.Record) bool {
		en := dlq.EntryOf(r)
		en.Source = physical(ns, en.Source)
		if (*reason == "" || en.Reason == *reason) && (*source == "" || en.Source == *source) &&
			(len(picked) == 0 || picked[[2]int64{int64(r.Partition), r.Offset}]) {
			entries = append(entries, en)
		}
		return sub != "list" || *limit <= 0 || len(entries) < *limit
	})
	if err != nil {
		return err
	}
	if sub == "list" {
		return printDLQ(entries, *format)
	}
	return redrive(ctx, cl, codec, *topic, entries, *decodable, *dryRun)
}

func parseSelection(s string) (map[[2]int64]bool, error) {
	out := map[[2]int64]bool{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		p, o, ok := strings.Cut(f, ":")
		pn, err1 := strconv.ParseInt(p, 10, 32)
		on, err2 := strconv.ParseInt(o, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w: --select %q: want partition:offset", errUsage, f)
		}
		out[[2]int64{pn, on}] = true
	}
	return out, nil
}

func printDLQ(entries []dlq.Entry, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(os.Stdout)
		for _, en := range entries {
			if err := enc.Encode(en); err != nil {
				return err
			}
		}
		return nil
	case "table":
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "POS\tTIME\tREASON\tSOURCE\tKEY\tEVENT TYPE\tERROR")
		for _, en := range entries {
			fmt.Fprintf(w, "%d:%d\t%s\t%s\t%s/%s\t%s\t%s\t%s\n", en.Partition, en.Offset, en.Time.Format(time.RFC3339),
				en.Reason, en.Source, en.SourcePos, en.Key, en.EventType, truncate(en.Error, 100))
		}
		fmt.Fprintf(w, "\n%d record(s); redrive with: provbus dlq redrive --select P:O[,P:O…]\n", len(entries))
		return w.Flush()
	}
	return fmt.Errorf("%w: --format %q: want table or json", errUsage, format)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// redrive sends the entries back to their source topic (dlq.Redrive) and
// prints what it did.
func redrive(ctx context.Context, cl *kgo.Client, codec *schemas.Codec, from string, entries []dlq.Entry, decodable, dryRun bool) error {
	outs, err := dlq.Redrive(ctx, cl, codec, from, entries, decodable, dryRun)
	var sent, skipped int
	for _, o := range outs {
		switch {
		case !o.Sent:
			fmt.Printf("skip %s: %s\n", o.Pos, o.Why)
			skipped++
		case dryRun:
			fmt.Printf("would send %s → %s\n", o.Pos, o.To)
			sent++
		default:
			fmt.Printf("sent %s → %s\n", o.Pos, o.To)
			sent++
		}
	}
	fmt.Printf("%d sent, %d skipped\n", sent, skipped)
	return err
}

// readToEnd calls fn for every committed record of topic, from the start up
// to the end offsets taken when it starts, until fn returns false.
func readToEnd(ctx context.Context, cl *kgo.Client, topic string, fn func(*kgo.Record) bool) error {
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("start offsets of %s: %w", topic, err)
	}
	want := map[int32]kgo.Offset{}
	stop := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if s, _ := starts.Lookup(o.Topic, o.Partition); o.Offset > s.Offset {
			want[o.Partition] = kgo.NewOffset().AtStart()
			stop[o.Partition] = o.Offset
		}
	})
	if len(want) == 0 {
		return nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: want})
	defer cl.PurgeTopicsFromConsuming(topic)
	for len(stop) > 0 {
		// The tail of a transactional topic is a commit marker a
		// read_committed consumer never sees, so "last record = end - 1"
		// cannot be the only stop: a poll that stays empty for a second
		// means nothing committed is left.
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		if fs.NumRecords() == 0 {
			return nil
		}
		more := true
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				if more {
					more = fn(r)
				}
			}
			if n := len(p.Records); n > 0 && p.Records[n-1].Offset >= stop[p.Partition]-1 {
				delete(stop, p.Partition)
			}
		})
		if !more {
			return nil
		}
	}
	return nil
}

// physical returns topic in ns unless it already is.
func physical(ns topology.Namespace, topic string) string {
	if _, ok := ns.Logical(topic); ok || topic == "" {
		return topic
	}
	return ns.Topic(topic)
}
