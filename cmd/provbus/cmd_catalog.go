package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/provbus/provbus/topology"
)

// Registered here rather than in main.go so the catalog command is one file.
func init() {
	commands["catalog"] = command{
		summary: "print the event catalog: handlers, event types, subscriptions, inheritance",
		example: "provbus catalog handler IPTV --format json\nprovbus catalog events --catalog catalog-override.yaml",
		run:     runCatalog,
	}
}

const catalogUsage = `usage: provbus catalog [handlers|events|handler NAME|event TYPE] [flags]

Prints the catalog provbus routes with: the built-in one (docs/catalog.md),
extended by --catalog if given (docs/catalog-override.md).

flags:
`

// runCatalog prints the whole catalog or one part of it. It needs no broker,
// so operators can check an override file before deploying it.
func runCatalog(_ context.Context, _ *globals, args []string) error {
	fs := flag.NewFlagSet("catalog", flag.ContinueOnError)
	format := fs.String("format", "table", "output format: table, json or markdown")
	override := fs.String("catalog", "", "catalog override file (YAML) to apply on top of the built-in catalog")
	// flag stops at the first positional argument; keep parsing after each
	// one so "catalog handler IPTV --format json" works as typed.
	var pos []string
	for {
		if err := parseFlagsArgs(fs, catalogUsage, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	f, err := topology.ParseFormat(*format)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	sel, err := catalogSelection(pos)
	if err != nil {
		return err
	}
	c, err := topology.Load(*override)
	if err != nil {
		return err
	}
	return c.Write(os.Stdout, f, sel)
}

func catalogSelection(pos []string) (topology.Selection, error) {
	all := topology.Selection{Sections: topology.SectionAll}
	if len(pos) == 0 {
		return all, nil
	}
	what, rest := pos[0], strings.Join(pos[1:], " ")
	switch {
	case what == "handlers" && rest == "":
		return topology.Selection{Sections: topology.SectionHandlers}, nil
	case what == "events" && rest == "":
		return topology.Selection{Sections: topology.SectionEventTypes}, nil
	case what == "handler" && rest != "":
		return topology.Selection{Sections: all.Sections, Handler: rest}, nil
	case what == "event" && rest != "":
		// Joined with spaces so an unquoted "Customer/AvailableFunds Appear"
		// still resolves: Lookup ignores white space.
		return topology.Selection{Sections: all.Sections, EventType: rest}, nil
	}
	return all, fmt.Errorf("%w: catalog [handlers|events|handler NAME|event TYPE], got %q", errUsage, strings.Join(pos, " "))
}
