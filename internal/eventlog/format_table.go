package eventlog

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// table writes aligned columns for a terminal. Widths are fixed from the
// selection (the topic column fits the longest topic name) rather than from
// the data, so the table streams — tail prints each line as it arrives —
// and over-long cells are cut with "…".
type table struct {
	w      *bufio.Writer
	cols   []tableCol
	cause  bool
	stream bool
	line   []byte
}

type tableCol struct {
	name  string
	width int // 0: the last column, unbounded
}

func newTable(w io.Writer, o WriterOptions) *table {
	tw := len("TOPIC")
	for _, t := range o.Topics {
		tw = max(tw, len(t))
	}
	t := &table{w: bufio.NewWriterSize(w, 32<<10), cause: o.Cause, stream: o.Stream}
	t.cols = []tableCol{
		{"TIMESTAMP", len(TimeLayout)}, {"TOPIC", tw}, {"P", 3}, {"OFFSET", 9},
		{"EVENT_TYPE", 40}, {"ORIGIN", 9}, {"KEY", 16}, {"EVENT_ID", 36},
	}
	if o.Cause {
		t.cols = append(t.cols, tableCol{"CAUSED BY", 0})
	} else {
		t.cols[len(t.cols)-1].width = 0
	}
	hdr := make([]string, len(t.cols))
	for i, c := range t.cols {
		hdr[i] = c.name
	}
	t.row(hdr)
	return t
}

func (t *table) row(cells []string) {
	t.line = t.line[:0]
	for i, c := range t.cols {
		v := cells[i]
		if i == len(t.cols)-1 {
			t.line = append(t.line, v...)
			break
		}
		n := utf8.RuneCountInString(v)
		if n > c.width {
			v = string([]rune(v)[:c.width-1]) + "…"
			n = c.width
		}
		t.line = append(t.line, v...)
		t.line = append(t.line, strings.Repeat(" ", c.width-n+2)...)
	}
	t.w.WriteString(strings.TrimRight(string(t.line), " "))
	t.w.WriteByte('\n')
}

func (t *table) Write(e *Entry) error {
	r, ev := e.Record, e.Event
	cells := []string{
		formatTime(r.Timestamp), r.Topic, strconv.Itoa(int(r.Partition)), strconv.FormatInt(r.Offset, 10),
		ev.EventType, ev.Origin, string(r.Key), ev.EventID,
	}
	if t.cause {
		cells = append(cells, strings.Join(e.Cause, " > "))
	}
	t.row(cells)
	if t.stream {
		// Someone is watching tail: each line now, not when 32 KiB
		// have piled up.
		return t.w.Flush()
	}
	return nil
}

func (t *table) Close() error { return t.w.Flush() }

// Flush writes out what is buffered.
func (t *table) Flush() error { return t.w.Flush() }
