package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/provbus/provbus/internal/eventlog"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// printAttempts prints, after history's table, the delivery attempts of
// the entity's records of delivered handlers (deliver.handlers) from
// provbus.deliveries, and each record's final outcome, grouped under the
// handler record they are about.
func printAttempts(ctx context.Context, e *env, codec *schemas.Codec, ent eventlog.Entity, entries []eventlog.Entry, win eventlog.Window) error {
	type ref struct {
		handlerTopic string
		partition    int32
		offset       int64
	}
	delivered := map[string]bool{} // handler topics with a url
	for name := range e.cfg.Deliver.Handlers {
		delivered[topology.HandlerTopic(name)] = true
	}
	var recs []ref
	for _, en := range entries {
		if t, ok := e.namespace().Logical(en.Record.Topic); ok && delivered[t] {
			recs = append(recs, ref{t, en.Record.Partition, en.Record.Offset})
		}
	}
	if len(recs) == 0 {
		return nil
	}
	a, err := e.deliverAdmin("")
	if err != nil {
		return err
	}
	a.Codec = codec // history's own, already warm
	atts, err := a.Attempts(ctx, ent.Value, recs[0].partition, win.From)
	if err != nil {
		return fmt.Errorf("delivery attempts: %w", err)
	}
	byRec := map[ref][]schemas.Delivery{}
	for _, d := range atts {
		r := ref{topology.HandlerTopic(d.Handler), d.Partition, d.Offset}
		byRec[r] = append(byRec[r], d)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "\nDELIVERY ATTEMPTS (provbus.deliveries)")
	fmt.Fprintln(w, "HANDLER RECORD\tEVENT ID\tATTEMPT\tAT\tSTATUS\tOUTCOME\tLATENCY\tERROR / RESPONSE")
	for _, r := range recs {
		ds := byRec[r]
		where := fmt.Sprintf("%s/%d@%d", r.handlerTopic, r.partition, r.offset)
		if len(ds) == 0 {
			fmt.Fprintf(w, "%s\t\t\t\t\tnot attempted yet\t\t\n", where)
			continue
		}
		for i, d := range ds {
			note := d.Error
			if note == "" {
				note = strings.ReplaceAll(d.Response, "\n", " ")
			}
			if len(note) > 60 {
				note = note[:60] + "…"
			}
			label := ""
			if i == 0 {
				label = where
			}
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%d\t%s\t%dms\t%s\n", label, d.EventID, d.Attempt, d.At.UTC().Format(time.RFC3339), d.StatusCode, d.Outcome, d.LatencyMS, note)
		}
		last := ds[len(ds)-1]
		final := last.Outcome
		if final == schemas.DeliveryRetry && last.NextAt != nil {
			final = "pending: next attempt " + last.NextAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "\t\t\t\t\t→ %s\t\t\n", final)
	}
	return w.Flush()
}
