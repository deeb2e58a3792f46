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
	commands["history"] = command{
		summary: "everything that happened to one account, customer, MSISDN …, with lineage",
		example: "provbus history --account 1042 --from -7d",
		run:     runHistory,
	}
}

const historyUsage = `usage: provbus history (--account N | --customer N | --product N | --msisdn M | --object-id ID) [flags]

Merges, in time order, the entity's records from the domain topics keyed by
it, portabilling.account.inherited, the parent customer or product events of
its inherited events, and its handler deliveries; the CAUSED BY column shows
the lineage (parent event > delivered event). Only the partition the entity's
key hashes to is read. See docs/analysts.md.

flags:
`

func runHistory(ctx context.Context, g *globals, args []string) error {
	var f readFlags
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	ids := map[string]*string{}
	for _, x := range []struct{ flag, field, help string }{
		{"account", "i_account", "PortaBilling i_account"},
		{"customer", "i_customer", "PortaBilling i_customer"},
		{"product", "i_product", "PortaBilling i_product"},
		{"msisdn", "msisdn", "Transatel MSISDN"},
		{"object-id", "object_id", "JeraSoft object_id"},
	} {
		ids[x.field] = fs.String(x.flag, "", "history of this "+x.help)
	}
	fs.StringVar(&f.from, "from", "", "only records at or after this time (RFC 3339, YYYY-MM-DD or relative)")
	fs.StringVar(&f.to, "to", "", "only records before this time")
	f.registerFilters(fs, false)
	f.registerOutput(fs, eventlog.FormatTable)
	if err := parseFlags(fs, historyUsage, args); err != nil {
		return err
	}
	var ent eventlog.Entity
	for field, v := range ids {
		if *v == "" {
			continue
		}
		if ent.Field != "" {
			return fmt.Errorf("%w: give one of --account, --customer, --product, --msisdn, --object-id", errUsage)
		}
		ent = eventlog.Entity{Field: field, Value: *v}
	}
	if ent.Field == "" {
		return fmt.Errorf("%w: give one of --account, --customer, --product, --msisdn, --object-id", errUsage)
	}
	win, err := f.window()
	if err != nil {
		return err
	}
	e, codec, err := connect(ctx, g)
	if err != nil {
		return err
	}
	flt, err := f.filter(e)
	if err != nil {
		return err
	}
	h := &eventlog.History{Catalog: e.catalog, Namespace: e.namespace(), Codec: codec, Window: win, Filter: flt}
	entries, err := h.Run(ctx, e.kafkaClient, ent)
	if err != nil {
		return err
	}
	var topics []string
	for _, en := range entries {
		topics = append(topics, en.Record.Topic)
	}
	out, closeOut, err := f.output(topics, false, true)
	if err != nil {
		return err
	}
	for i := range entries {
		if err = out.Write(&entries[i]); err != nil {
			break
		}
	}
	h.Stats.Written = int64(len(entries))
	err = errors.Join(err, out.Close(), closeOut())
	if err == nil && f.format == eventlog.FormatTable && f.out == "" {
		err = printAttempts(ctx, e, codec, ent, entries, win)
	}
	fmt.Fprintln(os.Stderr, eventlog.Summary("history", h.Stats))
	return err
}
