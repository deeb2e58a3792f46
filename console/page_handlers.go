package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// handlerRow is a handler as the list shows it.
type handlerRow struct {
	H         *topology.Handler
	Slug      string
	Topic     string
	Direct    int // subscriptions
	Inherited int // of which also inherited
	Stat      topicStat
	Readers   []groupStat
	Lag       int64
	Delivery  *DeliveryStatus
	NoURL     bool // delivery runs, but not to this handler
	DelErr    string
}

func (s *Server) handlerRows(ctx context.Context) ([]handlerRow, error) {
	snap, err := s.stats.get(ctx, s.flowTopics())
	if err != nil {
		return nil, err
	}
	var rows []handlerRow
	for _, h := range s.cat.Handlers() {
		if h.Topic == "" {
			continue
		}
		phys := s.ns.Topic(h.Topic)
		row := handlerRow{H: h, Slug: topology.Slug(h.Name), Topic: phys, Direct: len(h.Subscriptions), Stat: snap.Topics[phys], Readers: snap.readers(phys)}
		for _, sub := range h.Subscriptions {
			if sub.Inherited {
				row.Inherited++
			}
		}
		for _, g := range row.Readers {
			row.Lag += g.Lag[phys]
		}
		if s.delivery != nil {
			st, err := s.delivery.Status(ctx, row.Slug)
			if errors.Is(err, ErrNotDelivered) {
				row.NoURL = true
			} else if err != nil {
				row.DelErr = err.Error()
			} else {
				row.Delivery = &st
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func (s *Server) handlersPage(ctx context.Context, r *http.Request) (view, error) {
	rows, err := s.handlerRows(ctx)
	if err != nil {
		return view{}, err
	}
	return view{tmpl: "handlers", title: "Handlers", data: struct {
		Rows     []handlerRow
		Delivery bool
	}{rows, s.delivery != nil}}, nil
}

// subRow is one subscription of a handler: the catalog's row, what the
// type means, and, for an inherited one, the parent types it comes from.
type subRow struct {
	topology.Subscription
	Description string
	Domain      string
	Parents     []topology.Inheritance
}

// recordRow is a record of a list, decoded where it decodes.
type recordRow struct {
	R     *kgo.Record
	Href  string
	Event *schemas.Event
	Err   string
}

func (s *Server) handlerBySlug(slug string) (*topology.Handler, bool) {
	for _, h := range s.cat.Handlers() {
		if h.Topic != "" && topology.Slug(h.Name) == slug {
			return h, true
		}
	}
	return nil, false
}

func (s *Server) handlerPage(ctx context.Context, r *http.Request) (view, error) {
	slug := r.PathValue("slug")
	h, ok := s.handlerBySlug(slug)
	if !ok {
		return view{}, notFound("no handler %q in the catalog (see %scatalog)", slug, Prefix)
	}
	var subs []subRow
	for _, sub := range h.Subscriptions {
		row := subRow{Subscription: sub}
		if t, ok := s.cat.Lookup(sub.EventType); ok {
			row.Description, row.Domain = t.Description, t.Topic
		}
		if sub.Inherited {
			for _, rule := range s.cat.Inheritances() {
				if rule.To == sub.EventType {
					row.Parents = append(row.Parents, rule)
				}
			}
		}
		subs = append(subs, row)
	}
	phys := s.ns.Topic(h.Topic)
	snap, err := s.stats.get(ctx, s.flowTopics())
	if err != nil {
		return view{}, err
	}
	data := struct {
		H        *topology.Handler
		Slug     string
		Topic    string
		Subs     []subRow
		Stat     topicStat
		Readers  []groupStat
		Latest   latest
		Rows     []recordRow
		Missing  bool
		Delivery *DeliveryStatus
		DelOn    bool
		NoURL    bool
		DelErr   string
	}{H: h, Slug: slug, Topic: phys, Subs: subs, Stat: snap.Topics[phys], Readers: snap.readers(phys), DelOn: s.delivery != nil}
	if data.Latest, err = s.readLatest(ctx, phys, latestN); err != nil {
		return view{}, err
	}
	data.Missing = data.Latest.Missing
	data.Rows = s.decodeRows(ctx, data.Latest.Records)
	if s.delivery != nil {
		st, err := s.delivery.Status(ctx, slug)
		if errors.Is(err, ErrNotDelivered) {
			data.NoURL = true
		} else if err != nil {
			data.DelErr = err.Error()
		} else {
			data.Delivery = &st
		}
	}
	return view{tmpl: "handler", title: h.Name, data: data}, nil
}

func (s *Server) decodeRows(ctx context.Context, recs []*kgo.Record) []recordRow {
	rows := make([]recordRow, 0, len(recs))
	for _, r := range recs {
		row := recordRow{R: r, Href: eventHref(r)}
		ev := new(schemas.Event)
		if _, err := s.codec.Decode(ctx, r.Value, ev); err != nil {
			row.Err = err.Error()
		} else {
			row.Event = ev
		}
		rows = append(rows, row)
	}
	return rows
}

// eventHref is the event page of a record.
func eventHref(r *kgo.Record) string {
	return fmt.Sprintf("%sevents/%s/%d/%d", Prefix, url.PathEscape(r.Topic), r.Partition, r.Offset)
}

// handlerAction runs pause, resume, redrive or skip through the Delivery
// (the deliverer's own code) and goes back to the handler page with the
// outcome.
func (s *Server) handlerAction(w http.ResponseWriter, r *http.Request) {
	slug, action := r.PathValue("slug"), r.PathValue("action")
	if _, ok := s.handlerBySlug(slug); !ok {
		http.Error(w, fmt.Sprintf("no handler %q", slug), http.StatusNotFound)
		return
	}
	if s.delivery == nil {
		http.Error(w, "delivery is not configured in this console", http.StatusConflict)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	var msg string
	var err error
	switch action {
	case "pause":
		err, msg = s.delivery.Pause(ctx, slug), "paused"
	case "resume":
		err, msg = s.delivery.Resume(ctx, slug), "resumed"
	case "redrive":
		var n int
		n, err = s.delivery.Redrive(ctx, slug)
		msg = fmt.Sprintf("%d failed deliveries requeued", n)
	case "skip":
		key := strings.TrimSpace(r.PostFormValue("key"))
		if key == "" || len(key) > 256 {
			http.Error(w, "skip: the form field key is required (at most 256 bytes)", http.StatusBadRequest)
			return
		}
		err, msg = s.delivery.Skip(ctx, slug, key), "skipped the blocked record of key "+key
	default:
		http.Error(w, fmt.Sprintf("unknown action %q: want pause, resume, redrive or skip", action), http.StatusNotFound)
		return
	}
	if errors.Is(err, ErrNotDelivered) || errors.Is(err, ErrNothingToSkip) {
		http.Error(w, action+" "+slug+": "+err.Error(), http.StatusConflict)
		return
	}
	if err != nil {
		s.log.Warn("console action failed", zap.String("handler", slug), zap.String("action", action), zap.Error(err))
		http.Error(w, action+" "+slug+": "+err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, s.done(Prefix+"handlers/"+slug, nil, slug+": "+msg), http.StatusSeeOther)
}
