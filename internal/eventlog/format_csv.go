package eventlog

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// csvWriter writes one row per entry under a header fixed before the first
// row: the record columns, the envelope fields, the typed ids of the
// selected topics' sources, one attr.<name> column per attribute, the
// payload, and (history) the cause.
//
// Attribute names are data, not schema, so a stable header needs them all
// before the first row. With WriterOptions.Attrs the columns are given and
// rows stream. Without, the writer spools each row to a temporary file as
// its fixed cells followed by attribute name/value pairs, collects the union
// of names, and at Close writes the header and re-reads the spool into rows:
// memory stays bounded by the number of distinct attribute names, disk by
// the size of the output, and the header is the same whatever order the
// records arrive in (names sorted).
type csvWriter struct {
	out    io.Writer
	o      WriterOptions
	fixed  []string // every column before the attributes
	tail   []string // columns after the attributes
	cells  []string // reused row
	stream bool

	// streaming
	cw    *csv.Writer
	attrs []string

	// spooling
	spool  *os.File
	sbuf   *bufio.Writer
	scw    *csv.Writer
	names  map[string]struct{}
	closed bool
}

func newCSV(w io.Writer, o WriterOptions) (*csvWriter, error) {
	c := &csvWriter{out: w, o: o}
	c.fixed = append(append(append([]string(nil), RecordColumns...), EnvelopeFields...), idColumns(TopicSources(o.Topics))...)
	c.tail = []string{"payload"}
	if o.Cause {
		c.tail = append(c.tail, "cause")
	}
	if o.Attrs != nil || o.Stream {
		c.stream = true
		c.attrs = o.Attrs
		c.cw = csv.NewWriter(w)
		if err := c.cw.Write(c.header(c.attrs)); err != nil {
			return nil, err
		}
		return c, nil
	}
	f, err := os.CreateTemp(o.TempDir, "provbus-csv-*")
	if err != nil {
		return nil, fmt.Errorf("csv spool: %w", err)
	}
	c.spool, c.names = f, map[string]struct{}{}
	c.sbuf = bufio.NewWriterSize(f, 64<<10)
	c.scw = csv.NewWriter(c.sbuf)
	return c, nil
}

func (c *csvWriter) header(attrs []string) []string {
	h := append([]string(nil), c.fixed...)
	for _, a := range attrs {
		h = append(h, "attr."+a)
	}
	return append(h, c.tail...)
}

// fixedCells fills the record, envelope and id cells of e into c.cells.
func (c *csvWriter) fixedCells(e *Entry) {
	r := e.Record
	c.cells = append(c.cells[:0], r.Topic, strconv.Itoa(int(r.Partition)), strconv.FormatInt(r.Offset, 10), formatTime(r.Timestamp), string(r.Key))
	for _, f := range c.fixed[len(RecordColumns):] {
		v, _ := Field(e.Event, f)
		c.cells = append(c.cells, v)
	}
}

func (c *csvWriter) tailCells(e *Entry) {
	c.cells = append(c.cells, e.Event.Payload)
	if c.o.Cause {
		c.cells = append(c.cells, strings.Join(e.Cause, " > "))
	}
}

func (c *csvWriter) Write(e *Entry) error {
	c.fixedCells(e)
	if c.stream {
		for _, a := range c.attrs {
			c.cells = append(c.cells, e.Event.Attributes[a])
		}
		c.tailCells(e)
		return c.cw.Write(c.cells)
	}
	c.tailCells(e)
	for k, v := range e.Event.Attributes {
		if _, ok := c.names[k]; !ok {
			c.names[k] = struct{}{}
		}
		c.cells = append(c.cells, k, v)
	}
	return c.scw.Write(c.cells)
}

func (c *csvWriter) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if c.stream {
		c.cw.Flush()
		return c.cw.Error()
	}
	defer func() {
		c.spool.Close()
		os.Remove(c.spool.Name())
	}()
	c.scw.Flush()
	if err := errors.Join(c.scw.Error(), c.sbuf.Flush()); err != nil {
		return fmt.Errorf("csv spool: %w", err)
	}
	if _, err := c.spool.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("csv spool: %w", err)
	}
	attrs := make([]string, 0, len(c.names))
	for n := range c.names {
		attrs = append(attrs, n)
	}
	sort.Strings(attrs)
	col := make(map[string]int, len(attrs))
	for i, a := range attrs {
		col[a] = i
	}
	bw := bufio.NewWriterSize(c.out, 64<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write(c.header(attrs)); err != nil {
		return err
	}
	cr := csv.NewReader(bufio.NewReaderSize(c.spool, 64<<10))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	nFixed, nTail := len(c.fixed), len(c.tail)
	row := make([]string, nFixed+len(attrs)+nTail)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("csv spool: %w", err)
		}
		copy(row, rec[:nFixed])
		clear(row[nFixed : nFixed+len(attrs)])
		copy(row[nFixed+len(attrs):], rec[nFixed:nFixed+nTail])
		for i := nFixed + nTail; i+1 < len(rec); i += 2 {
			row[nFixed+col[rec[i]]] = rec[i+1]
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// Flush writes out the rows of a streaming CSV; a discovering one has
// nothing to show before Close.
func (c *csvWriter) Flush() error {
	if !c.stream {
		return nil
	}
	c.cw.Flush()
	return c.cw.Error()
}
