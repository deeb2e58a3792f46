package eventlog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/schemas"
)

// Pipeline is the per-record path shared by replay, tail and the benchmark:
// window check, header pre-filter, one decode into a reused Event, filter,
// then the writer and/or the re-publisher. It is not safe for concurrent
// use.
type Pipeline struct {
	Codec  *schemas.Codec
	Window Window
	Filter *Filter      // nil matches everything
	Out    Writer       // nil: no formatted output
	Repub  *Republisher // nil: no re-publishing
	Stats  Stats

	ev    schemas.Event
	entry Entry
}

// Handle runs one record through the pipeline. Records whose value is not a
// decodable event are counted in Stats.Undecodable and skipped, so one bad
// record does not stop an analyst's read; a registry that cannot be reached
// is an error.
func (p *Pipeline) Handle(ctx context.Context, r *kgo.Record) error {
	if !p.Window.Contains(r.Timestamp) {
		return nil
	}
	p.Stats.Read++
	if p.Filter != nil && !p.Filter.MatchHeaders(r) {
		return nil
	}
	if _, err := p.Codec.Decode(ctx, r.Value, &p.ev); err != nil {
		if schemas.PoisonReason(err) != "" {
			p.Stats.Undecodable++
			return nil
		}
		return fmt.Errorf("decode %s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	if p.Filter != nil && !p.Filter.Match(&p.ev) {
		return nil
	}
	p.Stats.Matched++
	if p.Out != nil {
		p.entry = Entry{Record: r, Event: &p.ev}
		if err := p.Out.Write(&p.entry); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	if p.Repub != nil {
		if err := p.Repub.Add(ctx, r); err != nil {
			return err
		}
	}
	p.Stats.Written++
	return nil
}

// Finish flushes the re-publisher and closes the writer, and fills
// Stats.Elapsed from start.
func (p *Pipeline) Finish(ctx context.Context, start time.Time) error {
	var errs []error
	if p.Repub != nil {
		errs = append(errs, p.Repub.Flush(ctx))
	}
	if p.Out != nil {
		errs = append(errs, p.Out.Close())
	}
	p.Stats.Elapsed = time.Since(start)
	return errors.Join(errs...)
}

// Replay reads the window of topics through p: it plans the offset ranges
// (ErrUnknownTopic, ErrEmptyWindow), reads them, and finishes p. prog may be
// nil.
func Replay(ctx context.Context, dial Dial, topics []string, p *Pipeline, prog *Progress) error {
	start := time.Now()
	adm, closeAdm, err := admin(dial)
	if err != nil {
		return err
	}
	ranges, err := Plan(ctx, adm, topics, p.Window, nil)
	closeAdm()
	if err != nil {
		return err
	}
	rerr := Read(ctx, dial, ranges, prog, func(r *kgo.Record) error { return p.Handle(ctx, r) })
	return errors.Join(rerr, p.Finish(ctx, start))
}
