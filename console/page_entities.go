package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/provbus/provbus/internal/eventlog"
	"github.com/provbus/provbus/schemas"
)

// entityParams are the query parameters of /ui/entities and the typed id
// field (record key) each one names.
var entityParams = []struct{ Param, Field, Label string }{
	{"account", "i_account", "Account (i_account)"},
	{"customer", "i_customer", "Customer (i_customer)"},
	{"product", "i_product", "Product (i_product)"},
	{"msisdn", "msisdn", "MSISDN"},
	{"sim", "sim_serial", "SIM serial (ICCID)"},
	{"object_id", "object_id", "JeraSoft object_id"},
}

// maxEntityValue bounds the id a reader types.
const maxEntityValue = 128

// timelineOffsets bounds a timeline's read: the newest offsets of each
// partition it reads, so the page costs the same on a topic of a thousand
// records or a billion; the page links to what is older.
const timelineOffsets = 10_000

// timelineRow is one event of an entity's timeline.
type timelineRow struct {
	eventlog.Entry
	Anchor   string
	Href     string
	Stage    string // domain, inherited, parent, delivery
	Handler  string // slug, for deliveries
	Causes   []cause
	Attempts []Attempt
	AttErr   string
}

// cause is one link of an event's lineage.
type cause struct {
	EventID string
	Anchor  string // "" when the cause is not on this page
	Type    string
}

func (s *Server) entitiesPage(ctx context.Context, r *http.Request) (view, error) {
	q := r.URL.Query()
	data := struct {
		Params       any
		Param, Value string
		From, To     string
		Rows         []timelineRow
		Empty        string
		Stats        eventlog.Stats
		Searched     bool
		Horizon      time.Time
		Older        string
		SIM          string   // the SIM searched for, when the timeline is its MSISDN\'s
		MSISDNs      []string // every MSISDN the SIM was seen with, newest first
	}{Params: entityParams, Param: "account", From: q.Get("from"), To: q.Get("to")}
	var ent eventlog.Entity
	for _, p := range entityParams {
		v := strings.TrimSpace(q.Get(p.Param))
		if q.Get("kind") == p.Param && v == "" {
			v = strings.TrimSpace(q.Get("id")) // the page's own form
		}
		if v != "" {
			if ent.Field != "" {
				return view{}, badRequest("give one of account, customer, product, msisdn, sim, object_id")
			}
			if len(v) > maxEntityValue {
				return view{}, badRequest("%s: at most %d characters", p.Param, maxEntityValue)
			}
			ent = eventlog.Entity{Field: p.Field, Value: v}
			data.Param, data.Value = p.Param, v
		}
	}
	if ent.Field == "" {
		return view{tmpl: "entities", title: "Entities", data: data}, nil
	}
	data.Searched = true
	now := time.Now()
	var win eventlog.Window
	var err error
	if win.From, err = eventlog.ParseTime(data.From, now); err != nil {
		return view{}, badRequest("from: %v", err)
	}
	if win.To, err = eventlog.ParseTime(data.To, now); err != nil {
		return view{}, badRequest("to: %v", err)
	}
	if ent.Field == "sim_serial" {
		// No topic is keyed by the SIM: Transatel keys by MSISDN, so
		// the timeline is the MSISDN's the SIM was last seen with.
		msisdns, err := s.simMSISDNs(ctx, ent.Value)
		if err != nil {
			return view{}, err
		}
		if len(msisdns) == 0 {
			data.Empty = fmt.Sprintf("SIM %s does not appear in the newest %d offsets of each partition of the topics keyed by MSISDN: search by msisdn, or find it with provbus replay --where sim_serial=%s.", ent.Value, simLookupOffsets, ent.Value)
			return view{tmpl: "entities", title: "SIM " + ent.Value, data: data}, nil
		}
		data.SIM, data.MSISDNs = ent.Value, msisdns
		ent = eventlog.Entity{Field: "msisdn", Value: msisdns[0]}
		data.Param, data.Value = "msisdn", msisdns[0]
	}
	h := &eventlog.History{Catalog: s.cat, Namespace: s.ns, Codec: s.codec, Window: win, MaxOffsets: timelineOffsets}
	entries, err := h.Run(ctx, s.dial, ent)
	if data.Horizon = h.Horizon; !h.Horizon.IsZero() {
		older := url.Values{data.Param: {ent.Value}, "to": {h.Horizon.UTC().Format(time.RFC3339Nano)}}
		if data.From != "" {
			older.Set("from", data.From)
		}
		data.Older = Prefix + "entities?" + older.Encode()
	}
	switch {
	case errors.Is(err, eventlog.ErrEmptyWindow):
		data.Empty = fmt.Sprintf("No record of %s %s in %s.", data.Param, ent.Value, win)
	case errors.Is(err, eventlog.ErrUnknownTopic):
		return view{}, err
	case err != nil && strings.HasPrefix(err.Error(), "no topic is keyed by"):
		return view{}, badRequest("%v", err)
	case err != nil:
		return view{}, err
	}
	data.Stats = h.Stats
	data.Rows = s.timeline(ctx, entries, win.From)
	return view{tmpl: "entities", title: "Entity " + data.Param + " " + ent.Value, data: data}, nil
}

// timeline turns history entries into rows with anchors, so each lineage
// link points at the row of the event that caused it.
func (s *Server) timeline(ctx context.Context, entries []eventlog.Entry, since time.Time) []timelineRow {
	hp := s.ns.Topic(schemas.HandlerTopicPrefix)
	inherited := map[string]bool{}
	for _, d := range s.cat.Derived() {
		inherited[s.ns.Topic(d.Topic)] = true
	}
	// The row an event id points at: its first non-delivery record.
	where := map[string]*timelineRow{}
	rows := make([]timelineRow, len(entries))
	for i, e := range entries {
		row := timelineRow{Entry: e, Href: eventHref(e.Record), Anchor: fmt.Sprintf("r-%s-%d-%d", strings.ReplaceAll(e.Record.Topic, ".", "_"), e.Record.Partition, e.Record.Offset)}
		switch {
		case strings.HasPrefix(e.Record.Topic, hp):
			row.Stage, row.Handler = "delivery", strings.TrimPrefix(e.Record.Topic, hp)
		case inherited[e.Record.Topic]:
			row.Stage = "inherited"
		default:
			row.Stage = "domain"
		}
		rows[i] = row
	}
	for i := range rows {
		if rows[i].Stage != "delivery" {
			if _, ok := where[rows[i].Event.EventID]; !ok {
				where[rows[i].Event.EventID] = &rows[i]
			}
		}
	}
	for i := range rows {
		row := &rows[i]
		// An inherited event names its parent; a delivery names the
		// event it carries (whose own row names the parent in turn).
		ids := row.Cause
		if row.Stage == "delivery" && len(ids) > 0 {
			ids = ids[len(ids)-1:]
		}
		for _, id := range ids {
			if id == row.Event.EventID && row.Stage != "delivery" {
				continue
			}
			c := cause{EventID: id}
			if w, ok := where[id]; ok && w != row {
				c.Anchor, c.Type = w.Anchor, w.Event.EventType
			}
			row.Causes = append(row.Causes, c)
		}
	}
	// A direct domain event with inherited children is a parent: one pass
	// over the rows for the set of parents, then a look-up each.
	parents := map[string]bool{}
	for i := range rows {
		if p := rows[i].Event.ParentEventID; p != nil && rows[i].Stage == "inherited" {
			parents[*p] = true
		}
	}
	for i := range rows {
		if row := &rows[i]; row.Stage == "domain" && row.Event.Origin == schemas.OriginDirect && parents[row.Event.EventID] {
			row.Stage = "parent"
		}
	}
	s.attachAttempts(ctx, rows, since)
	return rows
}

// attemptSkew is how much earlier than its handler record an attempt is
// looked for: the record's and the attempt's times come from two hosts'
// clocks.
const attemptSkew = 5 * time.Minute

// attachAttempts gives each delivery row its attempts, with one read of
// provbus.deliveries per key and partition of the timeline's handler
// records (one, mostly), not one per row. Each read starts at the earliest
// of those records (less attemptSkew), or at since if later: no attempt
// comes before its record, and the topic keeps 35 days of every attempt.
func (s *Server) attachAttempts(ctx context.Context, rows []timelineRow, since time.Time) {
	if s.delivery == nil {
		return
	}
	type kp struct {
		key       string
		partition int32
	}
	type ev struct{ handler, id string }
	from := map[kp]time.Time{}
	for i := range rows {
		if rows[i].Stage != "delivery" {
			continue
		}
		at := kp{string(rows[i].Record.Key), rows[i].Record.Partition}
		t := rows[i].Record.Timestamp.Add(-attemptSkew)
		if t.Before(since) {
			t = since
		}
		if f, ok := from[at]; !ok || t.Before(f) {
			from[at] = t
		}
	}
	read := map[kp]error{}
	byEvent := map[ev][]Attempt{}
	for i := range rows {
		row := &rows[i]
		if row.Stage != "delivery" {
			continue
		}
		at := kp{string(row.Record.Key), row.Record.Partition}
		err, done := read[at]
		if !done {
			var atts []Attempt
			atts, err = s.delivery.Attempts(ctx, at.key, at.partition, from[at])
			read[at] = err
			for _, a := range atts {
				byEvent[ev{a.Handler, a.EventID}] = append(byEvent[ev{a.Handler, a.EventID}], a)
			}
		}
		if err != nil {
			row.AttErr = err.Error()
			continue
		}
		row.Attempts = byEvent[ev{row.Handler, row.Event.EventID}]
	}
}
