package eventlog

import (
	"fmt"
	"io"
	"strings"
)

// Writer turns entries into one output format. Close flushes what is
// buffered (and, for a CSV with a discovered column set, writes it all); a
// Writer is not safe for concurrent use. A Writer may keep references to
// an entry's values until Close (the Parquet writer batches rows), so the
// caller leaves an Event's strings, pointers and map unchanged once
// written: Pipeline decodes each record into fresh ones
// (TestPipelineLeavesWrittenValues).
type Writer interface {
	Write(e *Entry) error
	Close() error
}

// Formats the writers know, for flag help and validation.
const (
	FormatNDJSON = "ndjson"
	FormatCSV    = "csv"
	FormatTable  = "table"
	// FormatParquet and FormatAvro are binary files for analysts'
	// tools (docs/analysts.md).
	FormatParquet = "parquet"
	FormatAvro    = "avro"
)

// Formats lists every format, for flag help.
var Formats = []string{FormatNDJSON, FormatCSV, FormatTable, FormatParquet, FormatAvro}

// Binary reports whether format writes bytes a terminal should not get.
func Binary(format string) bool {
	f := strings.ToLower(format)
	return f == FormatParquet || f == FormatAvro
}

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

// NewWriter returns the writer for format (one of Formats) writing to w.
func NewWriter(format string, w io.Writer, o WriterOptions) (Writer, error) {
	switch strings.ToLower(format) {
	case FormatNDJSON, "json", "jsonl":
		return newNDJSON(w, o), nil
	case FormatCSV:
		return newCSV(w, o)
	case FormatTable:
		return newTable(w, o), nil
	case FormatParquet:
		return newParquet(w, o), nil
	case FormatAvro:
		return newAvro(w, o)
	}
	return nil, fmt.Errorf("format %q: want %s", format, strings.Join(Formats, ", "))
}
