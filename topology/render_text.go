package topology

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// kind names a handler's role in listings.
func kind(h *Handler) string {
	switch {
	case h.Processor:
		return "processor"
	case h.Example:
		return "example"
	}
	return "handler"
}

func yes(b bool) string {
	if b {
		return "Y"
	}
	return ""
}

func inheritedCount(h *Handler) int {
	n := 0
	for _, s := range h.Subscriptions {
		if s.Inherited {
			n++
		}
	}
	return n
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (v *view) writeTable(out io.Writer) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if t := v.event; t != nil {
		fmt.Fprintf(w, "Event type:\t%s\nSource:\t%s\nDomain:\t%s\nTopic:\t%s\nAliases:\t%s\n",
			t.Name, t.Source, t.Domain, t.Topic, orDash(strings.Join(t.Aliases, ", ")))
		if t.AppliesTo != "" {
			fmt.Fprintf(w, "Applies to:\t%s\n", t.AppliesTo)
		}
		fmt.Fprintf(w, "Description:\t%s\n\n", t.Description)
	} else if h := v.handler; h != nil {
		fmt.Fprintf(w, "Handler:\t%s\nTopic:\t%s\nKind:\t%s\n", h.Name, orDash(h.Topic), kind(h))
		if h.Description != "" {
			fmt.Fprintf(w, "Description:\t%s\n", h.Description)
		}
		fmt.Fprintln(w)
	}
	if v.sections&SectionHandlers != 0 {
		switch {
		case v.event != nil:
			fmt.Fprintln(w, "HANDLER\tTOPIC\tKIND\tINHERITED")
			for _, h := range v.handlers {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", h.Name, orDash(h.Topic), kind(h), yes(h.Subscriptions[0].Inherited))
			}
		case v.handler != nil:
			fmt.Fprintln(w, "EVENT TYPE\tINHERITED\tDOMAIN TOPIC")
			for _, s := range v.handler.Subscriptions {
				fmt.Fprintf(w, "%s\t%s\t%s\n", s.EventType, yes(s.Inherited), v.c.index[Normalize(s.EventType)].Topic)
			}
		default:
			fmt.Fprintln(w, "HANDLER\tTOPIC\tKIND\tSUBSCRIPTIONS\tINHERITED")
			for _, h := range v.handlers {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\n", h.Name, orDash(h.Topic), kind(h), len(h.Subscriptions), inheritedCount(h))
			}
		}
		fmt.Fprintln(w)
	}
	if v.sections&SectionEventTypes != 0 && v.event == nil {
		fmt.Fprintln(w, "SOURCE\tEVENT TYPE\tDOMAIN\tTOPIC\tALIASES")
		for _, t := range v.types {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.Source, t.Name, t.Domain, t.Topic, strings.Join(t.Aliases, ", "))
		}
		fmt.Fprintln(w)
	}
	if v.sections&SectionInheritance != 0 && len(v.rules) > 0 {
		fmt.Fprintln(w, "FROM\tTO\tVIA\tKIND")
		for _, r := range v.rules {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.From, r.To, r.Via, r.Kind)
		}
	}
	return w.Flush()
}

// mdCell makes text safe inside a markdown table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

func (v *view) writeMarkdown(out io.Writer) error {
	w := bufio.NewWriter(out)
	switch {
	case v.event != nil:
		t := v.event
		fmt.Fprintf(w, "# %s\n\n%s\n\n- Source: %s\n- Domain: %s (topic %s)\n", code(t.Name), mdCell(t.Description), t.Source, t.Domain, code(t.Topic))
		if len(t.Aliases) > 0 {
			fmt.Fprintf(w, "- Aliases: %s\n", code(strings.Join(t.Aliases, "`, `")))
		}
		if t.AppliesTo != "" {
			fmt.Fprintf(w, "- Applies to: %s\n", t.AppliesTo)
		}
		fmt.Fprintln(w)
	case v.handler != nil:
		h := v.handler
		fmt.Fprintf(w, "# %s\n\n", h.Name)
		if h.Description != "" {
			fmt.Fprintf(w, "%s\n\n", h.Description)
		}
		fmt.Fprintf(w, "- Kind: %s\n- Topic: %s\n\n", kind(h), orDash(code(h.Topic)))
	default:
		v.writeMarkdownIntro(w)
	}
	if v.sections&SectionHandlers != 0 {
		v.writeMarkdownHandlers(w)
	}
	if v.sections&SectionInheritance != 0 && len(v.rules) > 0 {
		fmt.Fprint(w, "## Inheritance rules\n\n")
		fmt.Fprint(w, "A dispatcher turns one parent event into one inherited account event per account; handlers receive it where their row is marked inherited.\n\n")
		fmt.Fprint(w, "| From | To | Via | inherited_from |\n|---|---|---|---|\n")
		for _, r := range v.rules {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", code(r.From), code(r.To), r.Via, r.Kind)
		}
		fmt.Fprintln(w)
	}
	if v.sections&SectionEventTypes != 0 && v.event == nil {
		v.writeMarkdownTypes(w)
	}
	if v.sections&SectionHandlers != 0 && v.handler == nil && v.event == nil {
		v.writeMarkdownSubscriptions(w)
	}
	return w.Flush()
}
