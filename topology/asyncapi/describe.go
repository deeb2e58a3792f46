package asyncapi

import (
	"fmt"
	"strings"

	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// about is what the catalog says about one topic, ready for the document.
type about struct {
	summary            string
	channelDescription string
	messageName        string
	messageTitle       string
	messageDescription string
	contentType        string // non-Avro topics only
	headers            *Schema
	eventTypes         []EventType
	tags               []Tag
	operations         []operation
}

// operation is one thing provbus does on the topic.
type operation struct{ id, action, summary, description string }

// describer indexes the catalog by topic.
type describer struct {
	domains  map[string]topology.Domain
	types    map[string][]*topology.EventType // domain topic -> its types
	handlers map[string]*topology.Handler     // handler topic -> handler
	rules    []topology.Inheritance
	lookup   func(string) (*topology.EventType, bool)
}

func newDescriber(cat *topology.Catalog) *describer {
	d := &describer{
		domains:  map[string]topology.Domain{},
		types:    map[string][]*topology.EventType{},
		handlers: map[string]*topology.Handler{},
		rules:    cat.Inheritances(),
		lookup:   cat.Lookup,
	}
	for _, dom := range append(cat.Domains(), cat.Derived()...) {
		d.domains[dom.Topic] = dom
	}
	for _, t := range cat.EventTypes() {
		d.types[t.Topic] = append(d.types[t.Topic], t)
	}
	for _, h := range cat.Handlers() {
		if h.Topic != "" {
			d.handlers[h.Topic] = h
		}
	}
	return d
}

func (d *describer) describe(s topology.TopicSpec) about {
	a := about{messageName: schemas.RecordName(s.Logical), tags: []Tag{{Name: string(s.Role)}}}
	a.messageTitle = a.messageName
	if dom, ok := d.domains[s.Logical]; ok {
		a.tags = append(a.tags, Tag{Name: string(dom.Source)})
	}
	switch s.Role {
	case topology.RoleDomain:
		d.domain(&a, s)
	case topology.RoleDerived:
		d.derived(&a, s)
	case topology.RoleHandler:
		d.handler(&a, s)
	case topology.RoleParking:
		handler := strings.TrimSuffix(s.Logical, ".parking")
		a.summary = "Events of " + handler + " that kept failing in its consumer."
		a.channelDescription = "The subscribe package copies here, unchanged (key, value and headers), a record of `" +
			handler + "` whose handler call kept failing, adding the DLQ headers and `provbus.parking.attempts`. " +
			"Kept forever. Inspect and re-deliver with `provbus dlq list|redrive --topic " + s.Name + "`."
		a.messageName, a.messageTitle = "ParkedRecord", "Parked handler record"
		a.contentType = "application/octet-stream"
		a.headers = dlqHeaders()
		a.operations = []operation{{id: "park." + s.Name, action: "send", summary: "A handler consumer parks an event it cannot deliver."}}
	case topology.RoleQuarantine:
		a.summary = "Well-formed but unknown or unparseable events, never dropped."
		a.channelDescription = "Every event provbus ingest or import could not map to the catalog: the raw body, " +
			"the source and the reason. Kept forever; watch its growth (provbus_ingest_events_total{outcome=\"quarantined\"})."
		a.headers = &Schema{Type: "object", Properties: map[string]Schema{schemas.HeaderSource: {Type: "string", Description: "source system"}}}
		a.operations = []operation{{id: "quarantine", action: "send", summary: "Ingest quarantines an event it cannot map."}}
	case topology.RoleDLQ:
		a.summary = "Records a processor could not handle (poison), with headers saying why."
		a.channelDescription = "The original record (key, value, headers) as it was read, plus the `provbus.dlq.*` headers. " +
			"Kept forever. Inspect and re-drive with `provbus dlq list` and `provbus dlq redrive`."
		a.messageName, a.messageTitle = "DeadLetter", "Dead-lettered record"
		a.contentType = "application/octet-stream"
		a.headers = dlqHeaders()
		a.operations = []operation{
			{id: "deadLetter", action: "send", summary: "A processor dead-letters a poison record."},
			{id: "redrive", action: "receive", summary: "provbus dlq list|redrive reads dead letters."},
		}
	case topology.RoleState:
		a.summary = "Compacted processor state keyed by " + s.Key + "."
		a.channelDescription = "A compacted changelog: the latest record per key is the state. Not an event stream."
		a.messageName, a.messageTitle = "StateRecord", "State record"
		a.contentType = "application/octet-stream"
		if s.Logical == topology.TopicDirectorySnapshot {
			a.summary = "Directory rows (account -> customer, product) from provbus import directory."
			a.channelDescription = "`provbus import directory accounts.csv` writes one JSON row per account; the " +
				"directory processor reads them to learn account -> customer and account -> product before any account " +
				"event carried them. Compacted: the latest row per i_account wins."
			a.messageName, a.messageTitle = "DirectoryRow", "Directory row"
			a.contentType = "application/json"
		}
		a.operations = []operation{
			{id: "write." + s.Name, action: "send", summary: "provbus writes the state."},
			{id: "restore." + s.Name, action: "receive", summary: "Processors read the state back."},
		}
	default:
		a.summary = "Topic " + s.Name + "."
	}
	return a
}

func (d *describer) domain(a *about, s topology.TopicSpec) {
	dom := d.domains[s.Logical]
	types := d.types[s.Name]
	a.summary = fmt.Sprintf("%s %s events, as received.", dom.Source, dom.Name)
	var b strings.Builder
	fmt.Fprintf(&b, "Facts as received from %s (domain %q), keyed by %s. Kept forever: domain topics are "+
		"the source of truth that processors and replays start from.\n\n", dom.Source, dom.Name, dom.Key)
	b.WriteString("| event type | description |\n|---|---|\n")
	for _, t := range types {
		fmt.Fprintf(&b, "| `%s` | %s |\n", t.Name, cell(t.Description))
		a.eventTypes = append(a.eventTypes, EventType{Name: t.Name, Description: t.Description, Aliases: t.Aliases, Origins: []string{string(topology.OriginDirect)}})
	}
	a.channelDescription = b.String()
	a.messageDescription = fmt.Sprintf("One %s event; `event_type` says which of the %d types.", dom.Source, len(types))
	a.headers = eventHeaders(typeNames(a.eventTypes), []string{string(dom.Source)}, []string{string(topology.OriginDirect)})
	a.operations = []operation{
		{id: "ingest." + s.Name, action: "send", summary: "provbus ingest and provbus import write the events they receive."},
		{id: "consume." + s.Name, action: "receive", summary: "The directory, dispatch and route processors read the events."},
	}
}

func (d *describer) derived(a *about, s topology.TopicSpec) {
	dom := d.domains[s.Name]
	a.summary = fmt.Sprintf("%s %s events derived by processors.", dom.Source, dom.Name)
	var b strings.Builder
	fmt.Fprintf(&b, "Events the dispatch processors derive (origin INHERITED), keyed by %s. Kept forever.\n\n", dom.Key)
	seen := map[string]bool{}
	if s.Name == topology.TopicAccountInherited {
		b.WriteString("| parent event | inherited event | via | inherited_from |\n|---|---|---|---|\n")
		for _, r := range d.rules {
			fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", r.From, r.To, r.Via, r.Kind)
			if seen[r.To] {
				continue
			}
			seen[r.To] = true
			et := EventType{Name: r.To, Origins: []string{string(topology.OriginInherited)}}
			if t, ok := d.lookup(r.To); ok {
				et.Description = t.Description
			}
			a.eventTypes = append(a.eventTypes, et)
		}
	}
	a.channelDescription = b.String()
	a.messageDescription = "One inherited event per account of the parent's customer or product; " +
		"`parent_event_id` and `inherited_from` name the parent."
	a.headers = eventHeaders(typeNames(a.eventTypes), []string{string(dom.Source)}, []string{string(topology.OriginInherited)})
	a.operations = []operation{
		{id: "dispatch." + s.Name, action: "send", summary: "The dispatch processors write inherited events."},
		{id: "consume." + s.Name, action: "receive", summary: "The route processor reads inherited events."},
	}
}

func (d *describer) handler(a *about, s topology.TopicSpec) {
	h, ok := d.handlers[s.Logical]
	if !ok {
		a.summary = "Handler topic " + s.Name + "."
		return
	}
	a.summary = "Events for the " + h.Name + " provisioning service."
	var b strings.Builder
	if h.Description != "" {
		b.WriteString(h.Description + "\n\n")
	}
	fmt.Fprintf(&b, "The route processor writes here every event %s subscribes to: DIRECT always, INHERITED "+
		"(from customer or product events) only where the subscription says so. Records keep the domain topic's "+
		"key. Retention is finite (topics.handler_retention); the domain topics keep the history.\n\n", h.Name)
	b.WriteString("| event type | DIRECT | INHERITED |\n|---|---|---|\n")
	sources := map[string]bool{}
	for _, sub := range h.Subscriptions {
		origins := []string{string(topology.OriginDirect)}
		inh := ""
		if sub.Inherited {
			origins = append(origins, string(topology.OriginInherited))
			inh = "yes"
		}
		fmt.Fprintf(&b, "| `%s` | yes | %s |\n", sub.EventType, inh)
		et := EventType{Name: sub.EventType, Origins: origins}
		if t, ok := d.lookup(sub.EventType); ok {
			et.Description = t.Description
			sources[string(t.Source)] = true
		}
		a.eventTypes = append(a.eventTypes, et)
	}
	a.channelDescription = b.String()
	a.messageDescription = fmt.Sprintf("One event %s subscribes to (%d event types).", h.Name, len(a.eventTypes))
	a.headers = eventHeaders(typeNames(a.eventTypes), sortedKeys(sources),
		[]string{string(topology.OriginDirect), string(topology.OriginInherited)})
	a.tags = append(a.tags, Tag{Name: "handler:" + h.Name})
	a.operations = []operation{{id: "route." + s.Name, action: "send", summary: "The route processor delivers " + h.Name + "'s events.",
		description: "Consumed by the " + h.Name + " provisioning service (for example with the Go subscribe package)."}}
}

// eventHeaders is the schema of the headers every event record repeats.
func eventHeaders(types, sources, origins []string) *Schema {
	return &Schema{Type: "object", Properties: map[string]Schema{
		schemas.HeaderEventType: {Type: "string", Description: "canonical event type", Enum: types},
		schemas.HeaderSource:    {Type: "string", Description: "source system", Enum: sources},
		schemas.HeaderOrigin:    {Type: "string", Description: "DIRECT or INHERITED", Enum: origins},
	}}
}

// dlqHeaders is the schema of the headers a dead-lettered or parked record
// gets on top of its own.
func dlqHeaders() *Schema {
	str := func(d string) Schema { return Schema{Type: "string", Description: d} }
	return &Schema{Type: "object", Properties: map[string]Schema{
		records.HeaderDLQReason:    str("short class: not_wire_format, unknown_schema, undecodable, unroutable, …"),
		records.HeaderDLQError:     str("the error text"),
		records.HeaderDLQTopic:     str("the topic the record was read from"),
		records.HeaderDLQPartition: str("its partition (decimal)"),
		records.HeaderDLQOffset:    str("its offset (decimal)"),
		records.HeaderDLQGroup:     str("the consumer group that gave up"),
		records.HeaderDLQTime:      str("RFC 3339 time of the failure"),
	}}
}

// rawPayload is the value schema of a topic that is not Avro.
func rawPayload(s topology.TopicSpec) Schema {
	if s.Name == topology.TopicDirectorySnapshot {
		return Schema{Type: "object", Required: []string{"i_account", "i_customer"}, Properties: map[string]Schema{
			"i_account":  {Type: "integer", Description: "the account"},
			"i_customer": {Type: "integer", Description: "its customer"},
			"i_product":  {Type: "integer", Description: "its product, null when none", Nullable: true},
		}}
	}
	return Schema{Type: "string", Format: "binary", Description: "the original record value, unchanged"}
}

func typeNames(ts []EventType) []string {
	if len(ts) == 0 {
		return nil
	}
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

// sortedKeys returns the sources set in m, in schema order.
func sortedKeys(m map[string]bool) []string {
	var out []string
	for _, s := range schemas.Sources {
		if m[s] {
			out = append(out, s)
		}
	}
	return out
}

// cell makes text safe for a markdown table cell.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}
