package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/producers/edge"
)

// importBatch is how many records an import sends per synchronous
// produce: large enough to keep the producer's batches full, small enough
// that a failure loses little progress.
const importBatch = 1000

// ImportOptions tunes ImportEvents and ImportDirectory.
type ImportOptions struct {
	// DryRun parses and validates every line and produces nothing.
	DryRun bool
	// Strict stops at the first bad line (lines before it that were
	// already produced stay produced; run with DryRun first to produce
	// all or nothing).
	Strict bool
	// BadLine is called for every bad line with its 1-based number.
	BadLine func(line int, err error)
	// Progress is called after every produced batch and at the end with
	// the running totals.
	Progress func(ImportStats)
	// Instance imports the events as those of this named source instance
	// (installation): instance field and header, ids "<instance>:<id>",
	// exactly as its credentials would over HTTP. "" is the default one.
	Instance string
}

// ImportStats are the running totals of an import.
type ImportStats struct {
	Lines       int   // lines read, blank ones included
	Events      int   // records produced to domain topics (or that would be, in a dry run)
	Quarantined int   // records produced to provbus.quarantine
	Bad         int   // lines refused
	Bytes       int64 // bytes read
}

// ErrBadLines is returned (wrapped) by an import that refused at least one
// line; the good lines were still produced unless Strict.
var ErrBadLines = errors.New("bad lines")

// ImportEvents reads NDJSON — one source body per line, exactly what the
// source would POST — and produces it as the HTTP path would, without
// authentication. Event ids are those of the HTTP path, so re-running the
// same file yields the same ids.
func (s *Server) ImportEvents(ctx context.Context, source string, r io.Reader, opt ImportOptions) (ImportStats, error) {
	src, ok := s.sources[source]
	if !ok {
		return ImportStats{}, fmt.Errorf("ingest: unknown source %q", source)
	}
	if opt.Instance != "" && !config.ValidInstance(opt.Instance) {
		return ImportStats{}, fmt.Errorf("ingest: instance %q: use 1 to 32 of a-z 0-9 _ -", opt.Instance)
	}
	return s.importLines(ctx, r, opt, func(line []byte) ([]*kgo.Record, int, int, error) {
		b, err := s.prepare(src, line, meta{received: s.s.now(), contentType: "application/x-ndjson", remoteAddr: "import", instance: opt.Instance})
		if err != nil {
			return nil, 0, 0, err
		}
		if !opt.DryRun {
			s.account(source, b, "")
		}
		return b.records, len(b.accepted), len(b.quarantined), nil
	}, false)
}

// lineFunc turns one line into records, with the counts of domain and
// quarantined records among them.
type lineFunc func(line []byte) (recs []*kgo.Record, events, quarantined int, err error)

func (s *Server) importLines(ctx context.Context, r io.Reader, opt ImportOptions, fn lineFunc, header bool) (ImportStats, error) {
	var st ImportStats
	br := bufio.NewReaderSize(r, 64<<10)
	pending := make([]*kgo.Record, 0, importBatch)
	// The counts of the pending records join the totals once produced:
	// the totals never count what Kafka does not hold.
	var pendingEvents, pendingQuarantined int
	flush := func() error {
		produced := len(pending) > 0 && !opt.DryRun
		if produced {
			if err := s.produce(ctx, pending); err != nil {
				return err
			}
		}
		st.Events += pendingEvents
		st.Quarantined += pendingQuarantined
		pending, pendingEvents, pendingQuarantined = pending[:0], 0, 0
		if produced && opt.Progress != nil {
			opt.Progress(st)
		}
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return st, fmt.Errorf("import: %w", err)
		}
		line, rerr := br.ReadBytes('\n')
		st.Bytes += int64(len(line))
		if len(line) > 0 {
			st.Lines++
		}
		line = bytes.TrimSpace(line)
		skip := len(line) == 0 || (header && st.Lines == 1)
		if !skip {
			var err error
			if int64(len(line)) > s.s.maxBody {
				err = fmt.Errorf("line longer than %d bytes", s.s.maxBody)
			}
			var recs []*kgo.Record
			var ev, q int
			if err == nil {
				recs, ev, q, err = fn(line)
			}
			if err != nil {
				var bad *edge.Error
				if !errors.As(err, &bad) && !errors.Is(err, errBadRow) {
					return st, fmt.Errorf("import line %d: %w", st.Lines, err)
				}
				st.Bad++
				if opt.BadLine != nil {
					opt.BadLine(st.Lines, err)
				}
				if opt.Strict {
					// The lines before it are produced, as Strict says.
					if ferr := flush(); ferr != nil {
						return st, fmt.Errorf("import line %d: %w", st.Lines, ferr)
					}
					return st, fmt.Errorf("import line %d: %w: %w", st.Lines, ErrBadLines, err)
				}
			} else {
				pendingEvents += ev
				pendingQuarantined += q
				pending = append(pending, recs...)
				if len(pending) >= importBatch {
					if err := flush(); err != nil {
						return st, fmt.Errorf("import line %d: %w", st.Lines, err)
					}
				}
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return st, fmt.Errorf("import: read: %w", rerr)
		}
	}
	if err := flush(); err != nil {
		return st, fmt.Errorf("import: %w", err)
	}
	if opt.Progress != nil {
		opt.Progress(st)
	}
	if st.Bad > 0 {
		return st, fmt.Errorf("import: %d %w", st.Bad, ErrBadLines)
	}
	return st, nil
}
