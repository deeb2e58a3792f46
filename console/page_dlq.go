package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/provbus/provbus/internal/dlq"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// listN is how many of the newest DLQ or quarantine records a page shows.
const listN = 200

// maxRedrive bounds one redrive form.
const maxRedrive = 200

type dlqRow struct {
	dlq.Entry
	Href string
	Sel  string // partition:offset, the form value
}

// deadTopic resolves the topic a DLQ page or redrive works on: provbus.dlq
// by default, or a handler's parking topic (the subscribe package parks
// records a consumer kept failing on), as `provbus dlq --topic` does.
func (s *Server) deadTopic(name string) (string, error) {
	if name == "" || name == topology.TopicDLQ {
		return s.ns.Topic(topology.TopicDLQ), nil
	}
	for _, h := range s.cat.Handlers() {
		if h.Topic != "" && name == topology.ParkingTopic(h.Name) {
			return s.ns.Topic(name), nil
		}
	}
	return "", badRequest("topic %q: want %s or a handler's parking topic (handler.<slug>.parking)", name, topology.TopicDLQ)
}

// parkingTopics lists the parking topics that exist (logical names).
func (s *Server) parkingTopics(ctx context.Context) []string {
	var names []string
	for _, h := range s.cat.Handlers() {
		if h.Topic != "" {
			names = append(names, s.ns.Topic(topology.ParkingTopic(h.Name)))
		}
	}
	adm, done, err := s.admin()
	if err != nil {
		return nil
	}
	defer done()
	tds, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range names {
		if td, ok := tds[n]; ok && td.Err == nil {
			l, _ := s.ns.Logical(n)
			out = append(out, l)
		}
	}
	return out
}

func (s *Server) dlqPage(ctx context.Context, r *http.Request) (view, error) {
	logical := r.URL.Query().Get("topic")
	topic, err := s.deadTopic(logical)
	if err != nil {
		return view{}, err
	}
	l, err := s.readLatest(ctx, topic, listN)
	if err != nil {
		return view{}, err
	}
	data := struct {
		Topic   string
		Logical string
		Parking []string
		Latest  latest
		Rows    []dlqRow
		Missing bool
	}{Topic: topic, Logical: logical, Parking: s.parkingTopics(ctx), Latest: l, Missing: l.Missing}
	for _, rec := range l.Records {
		en := dlq.EntryOf(rec)
		data.Rows = append(data.Rows, dlqRow{Entry: en, Href: eventHref(rec), Sel: fmt.Sprintf("%d:%d", rec.Partition, rec.Offset)})
	}
	return view{tmpl: "dlq", title: "DLQ", data: data}, nil
}

// dlqRedrive sends the selected DLQ records back to their source topics
// with dlq.Redrive, as `provbus dlq redrive --select` does (records that
// still do not decode stay where they are).
func (s *Server) dlqRedrive(w http.ResponseWriter, r *http.Request) {
	sel := r.PostForm["sel"]
	if len(sel) == 0 || len(sel) > maxRedrive {
		http.Error(w, fmt.Sprintf("sel: select between 1 and %d records", maxRedrive), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	topic, err := s.deadTopic(r.PostFormValue("topic"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var entries []dlq.Entry
	for _, v := range sel {
		pv, ov, ok := strings.Cut(v, ":")
		p, err1 := strconv.ParseInt(pv, 10, 32)
		o, err2 := strconv.ParseInt(ov, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			http.Error(w, fmt.Sprintf("sel %q: want partition:offset", v), http.StatusBadRequest)
			return
		}
		rec, err := s.readOne(ctx, topic, int32(p), o)
		if err != nil {
			status := http.StatusBadGateway
			var he *httpError
			if errors.As(err, &he) {
				status = he.status
			}
			http.Error(w, err.Error(), status)
			return
		}
		en := dlq.EntryOf(rec)
		if _, ok := s.ns.Logical(en.Source); !ok && en.Source != "" {
			en.Source = s.ns.Topic(en.Source) // processors record the logical name
		}
		entries = append(entries, en)
	}
	cl, err := s.dial()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer cl.Close()
	outs, err := dlq.Redrive(ctx, cl, s.codec, topic, entries, true, false)
	sent, skipped := 0, []string{}
	for _, o := range outs {
		if o.Sent {
			sent++
		} else {
			skipped = append(skipped, o.Pos+" ("+o.Why+")")
		}
	}
	s.log.Info("console dlq redrive", zap.Int("sent", sent), zap.Strings("skipped", skipped), zap.Error(err))
	if err != nil {
		http.Error(w, fmt.Sprintf("redrive stopped after %d sent: %v", sent, err), http.StatusBadGateway)
		return
	}
	msg := fmt.Sprintf("%d redriven", sent)
	if len(skipped) > 0 {
		msg += fmt.Sprintf(", %d left in the DLQ: %s", len(skipped), strings.Join(skipped, "; "))
	}
	back := url.Values{}
	if t := r.PostFormValue("topic"); t != "" {
		back.Set("topic", t)
	}
	http.Redirect(w, r, s.done(Prefix+"dlq", back, msg), http.StatusSeeOther)
}

type quarantineRow struct {
	Href string
	Q    *schemas.Quarantined
	Err  string
	Body string
}

func (s *Server) quarantinePage(ctx context.Context, r *http.Request) (view, error) {
	topic := s.ns.Topic(topology.TopicQuarantine)
	l, err := s.readLatest(ctx, topic, listN)
	if err != nil {
		return view{}, err
	}
	data := struct {
		Topic   string
		Latest  latest
		Rows    []quarantineRow
		Missing bool
	}{Topic: topic, Latest: l, Missing: l.Missing}
	for _, rec := range l.Records {
		row := quarantineRow{Href: eventHref(rec)}
		q := new(schemas.Quarantined)
		if _, err := s.codec.Decode(ctx, rec.Value, q); err != nil {
			row.Err = err.Error()
		} else {
			row.Q = q
			row.Body = printable(q.Body)
			if len(row.Body) > 160 {
				row.Body = row.Body[:160] + "…"
			}
		}
		data.Rows = append(data.Rows, row)
	}
	return view{tmpl: "quarantine", title: "Quarantine", data: data}, nil
}
