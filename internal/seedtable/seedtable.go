// Package seedtable parses seed 000's handler tables (PortaBilling ESPF,
// copied verbatim to topology/testdata/seeds) on its own terms, without the
// catalog: tests check the catalog and the router against the source
// document, so a slip in either cannot hide behind itself.
package seedtable

import (
	"fmt"
	"os"
	"strings"
)

// Row is one (handler, event type, inherited) line of a handler's table,
// spelled as the seed spells it.
type Row struct {
	Handler   string
	EventType string
	Inherited bool // "Y" in the "Inherited from Customer" column
}

// Processors are the seed's handlers that are provbus processors, not
// handler topics (design §3).
var Processors = map[string]bool{"CustomerToAccountsDispatcher": true, "ProductToAccountsDispatcher": true}

// ReadFile parses the seed file at path.
func ReadFile(path string) (handlers []string, rows []Row, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return Parse(string(data))
}

// Parse reads the tables: a "<Handler> handler events" line, four header
// lines, then per row a name line ending in " |", description lines up to
// one ending in "|", and a "Y |" or "|" flag line.
func Parse(data string) (handlers []string, rows []Row, err error) {
	lines := strings.Split(data, "\n")
	var handler string
	for i := 0; i < len(lines); {
		line := strings.TrimRight(lines[i], " \r")
		switch {
		case strings.HasSuffix(line, " handler events"):
			handler = strings.TrimSuffix(line, " handler events")
			handlers = append(handlers, handler)
			i += 5
			continue
		case line == "":
			i++
			continue
		}
		if !strings.HasSuffix(line, " |") {
			return nil, nil, fmt.Errorf("seed 000 line %d: want an event name cell, got %q", i+1, line)
		}
		name := strings.TrimSuffix(line, " |")
		j := i + 1
		for j < len(lines) && !strings.HasSuffix(strings.TrimRight(lines[j], " \r"), "|") {
			j++
		}
		if j+1 >= len(lines) {
			return nil, nil, fmt.Errorf("seed 000 line %d: row %q has no flag cell", i+1, name)
		}
		flag := strings.TrimSpace(lines[j+1])
		if flag != "Y |" && flag != "|" {
			return nil, nil, fmt.Errorf("seed 000 line %d: want a flag cell, got %q", j+2, flag)
		}
		rows = append(rows, Row{Handler: handler, EventType: name, Inherited: flag == "Y |"})
		i = j + 2
	}
	return handlers, rows, nil
}
