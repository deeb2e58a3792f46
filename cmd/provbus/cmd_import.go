package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/provbus/provbus/producers/ingest"
)

// Registered here rather than in main.go so the import command is one file.
func init() {
	commands["import"] = command{
		summary:     "backfill: import events (NDJSON) or a directory snapshot (CSV)",
		example:     "provbus import events --source portabilling --strict events.ndjson\nprovbus import directory accounts.csv",
		subcommands: []string{"events", "directory"},
		run:         runImport,
	}
}

const importUsage = `usage:
  provbus import events --source portabilling|transatel|jerasoft [--strict] FILE.ndjson
  provbus import directory [--strict] FILE.csv

events: one source body per line, exactly as the source would POST it;
the same file imported twice yields the same event ids.
directory: CSV with a header naming i_account,i_customer[,i_product] (more
columns allowed); one record per row to provbus.directory.snapshot.
Bad lines are reported by number and skipped; with --strict the whole file
is validated first and nothing is produced if any line is bad.
FILE "-" reads standard input (--strict then stops at the first bad line).

flags:
`

func runImport(ctx context.Context, g *globals, args []string) error {
	if len(args) == 0 || (args[0] != "events" && args[0] != "directory") {
		fmt.Fprint(os.Stderr, importUsage)
		return fmt.Errorf("%w: import events|directory", errUsage)
	}
	kind := args[0]
	fs := flag.NewFlagSet("import "+kind, flag.ContinueOnError)
	source := fs.String("source", "", "source of the events: portabilling, transatel or jerasoft (events only)")
	strict := fs.Bool("strict", false, "produce nothing if any line is bad")
	quiet := fs.Bool("quiet", false, "no progress output")
	instance := fs.String("instance", "", "import as this named source instance (installation): ids <instance>:<id> (events only)")
	if err := parseFlagsArgs(fs, importUsage, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: exactly one FILE expected", errUsage)
	}
	if kind == "events" && *source == "" {
		return fmt.Errorf("%w: --source is required", errUsage)
	}
	path := fs.Arg(0)

	e, err := g.load()
	if err != nil {
		return err
	}
	defer func() { _ = e.log.Sync() }()
	srv, err := newIngestServer(ctx, e)
	if err != nil {
		return err
	}
	defer srv.Close()
	if kind == "events" {
		if _, ok := srv.Source(*source); !ok {
			return fmt.Errorf("%w: unknown source %q", errUsage, *source)
		}
	}

	run := func(opt ingest.ImportOptions) (ingest.ImportStats, error) {
		r, size, closeFn, err := openInput(path)
		if err != nil {
			return ingest.ImportStats{}, err
		}
		defer closeFn()
		p := newProgress(os.Stderr, size, *quiet)
		opt.Progress = p.update
		opt.Instance = *instance
		opt.BadLine = func(line int, err error) {
			p.clear()
			fmt.Fprintf(os.Stderr, "%s:%d: %v\n", path, line, err)
		}
		var st ingest.ImportStats
		if kind == "events" {
			st, err = srv.ImportEvents(ctx, *source, r, opt)
		} else {
			st, err = srv.ImportDirectory(ctx, r, opt)
		}
		p.clear()
		return st, err
	}
	if *strict && path != "-" {
		// Validate the whole file first so a bad line leaves Kafka
		// untouched.
		if _, err := run(ingest.ImportOptions{DryRun: true}); err != nil {
			return fmt.Errorf("%s: nothing imported: %w", path, err)
		}
	}
	st, err := run(ingest.ImportOptions{Strict: *strict})
	fmt.Fprintf(os.Stderr, "%s: %d lines, %d events, %d quarantined, %d bad\n", path, st.Lines, st.Events, st.Quarantined, st.Bad)
	return err
}

func openInput(path string) (io.Reader, int64, func(), error) {
	if path == "-" {
		return os.Stdin, -1, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("open: %w", err)
	}
	var size int64 = -1
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	return f, size, func() { _ = f.Close() }, nil
}

// progress draws a one-line bar on a terminal and nothing elsewhere, so
// logs and CI output stay clean.
type progress struct {
	w     *os.File
	size  int64
	on    bool
	drawn bool
}

func newProgress(w *os.File, size int64, quiet bool) *progress {
	on := false
	if fi, err := w.Stat(); err == nil && !quiet {
		on = fi.Mode()&os.ModeCharDevice != 0
	}
	return &progress{w: w, size: size, on: on}
}

func (p *progress) update(st ingest.ImportStats) {
	if !p.on {
		return
	}
	line := fmt.Sprintf("%d lines  %d events  %d quarantined  %d bad", st.Lines, st.Events, st.Quarantined, st.Bad)
	if p.size > 0 {
		pct := float64(st.Bytes) / float64(p.size)
		n := int(pct * 30)
		line = fmt.Sprintf("[%s%s] %3.0f%%  %s", strings.Repeat("#", n), strings.Repeat(".", 30-n), pct*100, line)
	}
	fmt.Fprintf(p.w, "\r%s\033[K", line)
	p.drawn = true
}

func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}
