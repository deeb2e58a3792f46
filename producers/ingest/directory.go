package ingest

import (
	"github.com/provbus/provbus/topology"

	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// DirectoryTopic receives `provbus import directory` rows: key i_account
// (decimal UTF-8), value the JSON DirectoryRow. The directory processor
// reads it to learn account → customer and account → product before any
// account event carried them.
const DirectoryTopic = topology.TopicDirectorySnapshot

// DirectoryRow is the JSON value of a DirectoryTopic record. IProduct is
// null when the row has none.
type DirectoryRow struct {
	IAccount  int64  `json:"i_account"`
	ICustomer int64  `json:"i_customer"`
	IProduct  *int64 `json:"i_product"`
}

// errBadRow marks a CSV row that cannot be imported.
var errBadRow = errors.New("bad row")

// ImportDirectory reads a CSV with a header naming at least the columns
// i_account and i_customer (i_product optional, any others ignored, in any
// order) and produces one DirectoryTopic record per row.
func (s *Server) ImportDirectory(ctx context.Context, r io.Reader, opt ImportOptions) (ImportStats, error) {
	var cols map[string]int
	parseRow := func(line []byte) ([]*kgo.Record, int, int, error) {
		fields, err := csv.NewReader(strings.NewReader(string(line))).Read()
		if err != nil {
			return nil, 0, 0, fmt.Errorf("%w: %w", errBadRow, err)
		}
		if cols == nil {
			cols, err = header(fields)
			return nil, 0, 0, err
		}
		row, err := directoryRow(cols, fields)
		if err != nil {
			return nil, 0, 0, err
		}
		value := fmt.Appendf(nil, `{"i_account":%d,"i_customer":%d,"i_product":%s}`,
			row.IAccount, row.ICustomer, nullableInt(row.IProduct))
		rec := &kgo.Record{
			Topic: DirectoryTopic,
			Key:   strconv.AppendInt(nil, row.IAccount, 10),
			Value: value,
			Headers: []kgo.RecordHeader{
				{Key: "content-type", Value: []byte("application/json")},
			},
		}
		return []*kgo.Record{rec}, 1, 0, nil
	}
	st, err := s.importLines(ctx, r, opt, parseRow, false)
	if cols == nil && err == nil {
		return st, fmt.Errorf("import directory: empty file (a header i_account,i_customer,i_product is required)")
	}
	return st, err
}

// header maps column names to positions; a missing required column is
// fatal, not a bad line.
func header(fields []string) (map[string]int, error) {
	cols := map[string]int{}
	for i, f := range fields {
		cols[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(f, "\ufeff")))] = i
	}
	for _, c := range []string{"i_account", "i_customer"} {
		if _, ok := cols[c]; !ok {
			return nil, fmt.Errorf("import directory: header has no column %s", c)
		}
	}
	return cols, nil
}

func directoryRow(cols map[string]int, fields []string) (DirectoryRow, error) {
	get := func(name string) (*int64, error) {
		i, ok := cols[name]
		if !ok || i >= len(fields) || strings.TrimSpace(fields[i]) == "" {
			return nil, nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(fields[i]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %q is not an integer", errBadRow, name, fields[i])
		}
		return &n, nil
	}
	var row DirectoryRow
	for _, c := range []struct {
		name     string
		dst      **int64
		required bool
	}{{"i_account", nil, true}, {"i_customer", nil, true}, {"i_product", &row.IProduct, false}} {
		v, err := get(c.name)
		if err != nil {
			return row, err
		}
		if v == nil && c.required {
			return row, fmt.Errorf("%w: %s is empty", errBadRow, c.name)
		}
		switch c.name {
		case "i_account":
			row.IAccount = *v
		case "i_customer":
			row.ICustomer = *v
		default:
			*c.dst = v
		}
	}
	return row, nil
}

func nullableInt(p *int64) string {
	if p == nil {
		return "null"
	}
	return strconv.FormatInt(*p, 10)
}
