package eventlog

import (
	"fmt"
	"io"
	"strings"
)

// Writer turns entries into one output format. Close flushes what is
// buffered (and, for a CSV with a discovered column set, writes it all); a
// Writer is not safe for concurrent use.
type Writer interface {
	Write(e *Entry) error
	Close() error
}

// Formats the writers know, for flag help and validation.
const (
	FormatNDJSON = "ndjson"
	FormatCSV    = "csv"
	FormatTable  = "table"
)

// WriterOptions shape a writer's columns. They depend on the selection, not
// on the data read, except where noted.
type WriterOptions struct {
	// Topics are the topics being read: they decide the CSV's typed-id
	// columns and the table's topic column width.
	Topics []string
	// Attrs fixes the CSV attribute columns (attr.<name>) and lets the CSV
	// stream. Nil means discover them: the union over everything written,
	// which spools rows to a temporary file until Close (see format_csv.go).
	Attrs []string
	// Stream forces a streaming CSV (the tail case) even without Attrs: the
	// attribute columns are then exactly Attrs, possibly none.
	Stream bool
	// Cause adds the lineage column (history).
	Cause bool
	// TempDir is where a discovering CSV spools, default os.TempDir().
	TempDir string
}

// NewWriter returns the writer for format ("ndjson", "csv" or "table")
// writing to w.
func NewWriter(format string, w io.Writer, o WriterOptions) (Writer, error) {
	switch strings.ToLower(format) {
	case FormatNDJSON, "json", "jsonl":
		return newNDJSON(w, o), nil
	case FormatCSV:
		return newCSV(w, o)
	case FormatTable:
		return newTable(w, o), nil
	}
	return nil, fmt.Errorf("format %q: want ndjson, csv or table", format)
}
