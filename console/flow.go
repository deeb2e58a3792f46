package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/provbus/provbus/topology"
)

// The flow page draws sources → topics → processors → handler topics →
// consumers as an SVG laid out in columns, plus the same numbers as a table
// (for screen readers and for reading without SVG). flow.json serves the
// numbers for the live refresh.

const (
	nodeW, nodeH = 196, 40
	colGap       = 52
	rowGap       = 10
	margin       = 10
)

// Columns of the flow, left to right.
const (
	colSources = iota
	colTopics
	colProcessors
	colHandlers
	colConsumers
	nCols
)

var colNames = [nCols]string{"Sources", "Domain topics", "Processors", "Handler topics", "Consumers & connectors"}

type node struct {
	ID    string // stable id: the live refresh finds the node by it
	Label string
	Sub   string // the numbers line
	Href  string
	Kind  string // css class: source, topic, processor, handler, consumer, quarantine, dlq
	Warn  bool   // lag, DLQ or quarantine records: draw attention
	X, Y  int
	Title string // full text for the tooltip
}

type edge struct {
	Path string
	Back bool // drawn dashed: a processor feeding a topic to the left
}

type flow struct {
	Cols   [nCols][]*node
	links  [][2]string // node ids, from → to; layout draws them as Edges
	Edges  []edge
	W, H   int
	Topics []topicRow
	Groups []groupStat
	At     string
	Err    string
}

// topicRow is a line of the flow's table.
type topicRow struct {
	Node    *node
	Name    string
	Href    string
	Stat    topicStat
	Readers []groupStat
}

func (s *Server) flowTopics() []string {
	var ts []string
	for _, d := range s.cat.Domains() {
		ts = append(ts, s.ns.Topic(d.Topic))
	}
	for _, d := range s.cat.Derived() {
		ts = append(ts, s.ns.Topic(d.Topic))
	}
	ts = append(ts, s.ns.Topic(topology.TopicQuarantine), s.ns.Topic(topology.TopicDLQ))
	for _, t := range s.cat.HandlerTopics() {
		ts = append(ts, s.ns.Topic(t))
	}
	return ts
}

// buildFlow lays out the flow from the catalog, the processors' specs and
// a snapshot.
func (s *Server) buildFlow(ctx context.Context) (*flow, error) {
	snap, err := s.stats.get(ctx, s.flowTopics())
	if err != nil {
		return nil, err
	}
	f := &flow{At: snap.At.UTC().Format("15:04:05 UTC")}
	byTopic := map[string]*node{}
	addTopic := func(col int, logical, kind string) *node {
		phys := s.ns.Topic(logical)
		st := snap.Topics[phys]
		n := &node{ID: "t:" + logical, Label: phys, Kind: kind, Href: topicHref(logical), Title: phys}
		n.Sub, n.Warn = topicSub(st, snap.readers(phys), kind)
		f.Cols[col] = append(f.Cols[col], n)
		byTopic[logical] = n
		f.Topics = append(f.Topics, topicRow{Node: n, Name: phys, Href: n.Href, Stat: st, Readers: snap.readers(phys)})
		return n
	}
	// Sources and their domain topics.
	srcRate := map[topology.Source]float64{}
	var sources []topology.Source
	for _, d := range s.cat.Domains() {
		if !slices.Contains(sources, d.Source) {
			sources = append(sources, d.Source)
		}
		srcRate[d.Source] += snap.Topics[s.ns.Topic(d.Topic)].Rate
	}
	if !snap.Rated {
		for src := range srcRate {
			srcRate[src] = -1
		}
	}
	srcNode := map[topology.Source]*node{}
	for _, src := range sources {
		n := &node{ID: "s:" + string(src), Label: string(src), Kind: "source", Sub: rate(srcRate[src]) + " in", Href: Prefix + "catalog?q=" + url.QueryEscape(string(src)), Title: "webhooks and imports from " + string(src)}
		srcNode[src] = n
		f.Cols[colSources] = append(f.Cols[colSources], n)
	}
	for _, d := range s.cat.Domains() {
		n := addTopic(colTopics, d.Topic, "topic")
		f.edge(srcNode[d.Source], n)
	}
	for _, d := range s.cat.Derived() {
		addTopic(colTopics, d.Topic, "topic")
	}
	q := addTopic(colTopics, topology.TopicQuarantine, "quarantine")
	q.Href = Prefix + "quarantine"
	for _, src := range sources {
		f.edge(srcNode[src], q)
	}
	// Processors, their inputs and outputs.
	for _, h := range s.cat.Handlers() {
		if h.Topic != "" {
			addTopic(colHandlers, h.Topic, "handler")
		}
	}
	dlq := addTopic(colHandlers, topology.TopicDLQ, "dlq")
	dlq.Href = Prefix + "dlq"
	for _, p := range s.procs {
		g := snap.Groups[p.Group]
		n := &node{ID: "p:" + p.Group, Label: strings.TrimPrefix(p.Group, "provbus-"), Kind: "processor", Title: "consumer group " + p.Group}
		n.Sub, n.Warn = groupSub(g)
		f.Cols[colProcessors] = append(f.Cols[colProcessors], n)
		for _, in := range p.Inputs {
			if t := byTopic[in.Topic]; t != nil {
				f.edge(t, n)
			}
		}
		for _, out := range p.Outputs {
			if t := byTopic[out]; t != nil {
				f.edge(n, t)
			}
		}
		f.edge(n, dlq)
	}
	// Who reads the handler topics: the deliverer, or the consumers'
	// own groups (a subscribe-based service).
	// The deliverer reads every handler topic, so with delivery on it
	// stands with the consumers, where its edges run left to right.
	del := &node{ID: "deliver", Label: "deliver", Kind: "processor", Sub: "not configured", Title: "HTTP delivery to connectors"}
	if s.delivery != nil {
		del.Sub, del.Href = "to connectors: see handlers", Prefix+"handlers"
		f.Cols[colConsumers] = append(f.Cols[colConsumers], del)
	} else {
		f.Cols[colProcessors] = append(f.Cols[colProcessors], del)
	}
	consumers := map[string]*node{}
	for _, h := range s.cat.Handlers() {
		if h.Topic == "" {
			continue
		}
		t := byTopic[h.Topic]
		if s.delivery != nil {
			f.edge(t, del)
		}
		for _, g := range snap.readers(s.ns.Topic(h.Topic)) {
			c := consumers[g.Group]
			if c == nil {
				c = &node{ID: "g:" + g.Group, Label: g.Group, Kind: "consumer", Title: "consumer group " + g.Group}
				c.Sub, c.Warn = groupSub(g)
				consumers[g.Group] = c
				f.Cols[colConsumers] = append(f.Cols[colConsumers], c)
			}
			f.edge(t, c)
		}
	}
	sort.Slice(f.Cols[colConsumers], func(i, j int) bool { return f.Cols[colConsumers][i].Label < f.Cols[colConsumers][j].Label })
	if len(f.Cols[colConsumers]) == 0 {
		f.Cols[colConsumers] = append(f.Cols[colConsumers], &node{ID: "g:none", Label: "no consumer group yet", Kind: "consumer", Sub: "see docs/subscribe.md"})
	}
	for _, g := range snap.Groups {
		f.Groups = append(f.Groups, g)
	}
	sortGroups(f.Groups)
	f.layout()
	return f, nil
}

// edge records an edge between two nodes; layout turns it into a path.
func (f *flow) edge(from, to *node) {
	if from == nil || to == nil {
		return
	}
	f.links = append(f.links, [2]string{from.ID, to.ID})
}

// layout places the nodes in their columns and draws the edges as curves
// from the right side of the source to the left side of the target.
func (f *flow) layout() {
	pos := map[string]*node{}
	for c := range f.Cols {
		for r, n := range f.Cols[c] {
			n.X = margin + c*(nodeW+colGap)
			n.Y = margin + 24 + r*(nodeH+rowGap)
			pos[n.ID] = n
			if h := n.Y + nodeH + margin; h > f.H {
				f.H = h
			}
		}
	}
	f.W = margin*2 + nCols*nodeW + (nCols-1)*colGap
	seen := map[[2]string]bool{}
	var edges []edge
	for _, l := range f.links {
		if seen[l] {
			continue
		}
		seen[l] = true
		a, b := pos[l[0]], pos[l[1]]
		y1, y2 := a.Y+nodeH/2, b.Y+nodeH/2
		if b.X > a.X {
			x1, x2 := a.X+nodeW, b.X
			mx := (x1 + x2) / 2
			edges = append(edges, edge{Path: fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, mx, y1, mx, y2, x2, y2)})
			continue
		}
		// A processor writing a topic to its left (dispatch →
		// portabilling.account.inherited): leave from the left side.
		x1, x2 := a.X, b.X+nodeW
		mx := (x1 + x2) / 2
		edges = append(edges, edge{Path: fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, mx, y1+20, mx, y2+20, x2, y2), Back: true})
	}
	f.Edges = edges
}

// topicSub is a topic node's numbers: its offsets, its produce rate and
// the lag of the groups reading it.
func topicSub(st topicStat, readers []groupStat, kind string) (string, bool) {
	if !st.Exists {
		return "missing: run provbus topology apply", true
	}
	sub := fmt.Sprintf("%s off · %s", count(st.Offsets), rate(st.Rate))
	var lag int64
	for _, g := range readers {
		lag += g.Lag[st.name]
	}
	if len(readers) > 0 {
		sub += " · lag " + count(lag)
	}
	warn := lag > 0 || ((kind == "dlq" || kind == "quarantine") && st.Offsets > 0)
	return sub, warn
}

func groupSub(g groupStat) (string, bool) {
	if g.Group == "" {
		return "not running: no group yet", true
	}
	lag := g.TotalLag()
	return fmt.Sprintf("lag %s · %s · %d up", count(lag), rate(g.Rate), g.Members), lag > 0 || g.Members == 0
}

// topicHref links a topic node to the page that explains it.
func topicHref(logical string) string {
	if slug, ok := strings.CutPrefix(logical, topology.HandlerTopicPrefix); ok {
		return Prefix + "handlers/" + slug
	}
	return Prefix + "catalog?q=" + url.QueryEscape(logical)
}

func (s *Server) flowPage(ctx context.Context, r *http.Request) (view, error) {
	f, err := s.buildFlow(ctx)
	if err != nil {
		return view{}, err
	}
	return view{tmpl: "flow", title: "Flow", data: struct {
		*flow
		ColNames [nCols]string
		NodeW    int
		NodeH    int
	}{f, colNames, nodeW, nodeH}}, nil
}

// flowJSON is the live refresh's data: every node's numbers line.
func (s *Server) flowJSON(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.timeout)
	defer cancel()
	f, err := s.buildFlow(ctx)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()}) //nolint:errcheck // the client reads what it gets
		return
	}
	// Field names match the data-f cells of the tables.
	type n struct {
		Sub     string `json:"sub"`
		Warn    bool   `json:"warn"`
		Offsets string `json:"offsets,omitempty"`
		Rate    string `json:"rate,omitempty"`
	}
	type g struct {
		Lag     string `json:"lag"`
		Rate    string `json:"rate"`
		Members int    `json:"members"`
		Warn    bool   `json:"warn"`
	}
	out := struct {
		At     string       `json:"at"`
		Nodes  map[string]n `json:"nodes"`
		Groups map[string]g `json:"groups"`
	}{At: f.At, Nodes: map[string]n{}, Groups: map[string]g{}}
	for _, col := range f.Cols {
		for _, nd := range col {
			out.Nodes[nd.ID] = n{Sub: nd.Sub, Warn: nd.Warn}
		}
	}
	for _, t := range f.Topics {
		nd := out.Nodes[t.Node.ID]
		nd.Offsets, nd.Rate = count(t.Stat.Offsets), rate(t.Stat.Rate)
		out.Nodes[t.Node.ID] = nd
	}
	for _, gr := range f.Groups {
		out.Groups[gr.Group] = g{Lag: count(gr.TotalLag()), Rate: rate(gr.Rate), Members: gr.Members, Warn: gr.TotalLag() > 0}
	}
	json.NewEncoder(w).Encode(out) //nolint:errcheck // the client reads what it gets
}
