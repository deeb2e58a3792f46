package eventlog

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Flusher is implemented by writers that buffer: tail flushes after every
// poll so lines appear as records arrive.
type Flusher interface {
	Flush() error
}

// Follow reads new records of topics through p until ctx ends: from the end
// of each partition, or from the first offset at or after from when it is
// set. It reads committed data only, as every provbus consumer does.
// Ending ctx is the normal way out and returns nil after finishing p.
func Follow(ctx context.Context, dial Dial, topics []string, from time.Time, p *Pipeline) error {
	start := time.Now()
	adm, closeAdm, err := admin(dial)
	if err != nil {
		return err
	}
	if len(topics) == 0 {
		closeAdm()
		return ErrNoTopics
	}
	// Fail on a missing topic now rather than wait forever for it.
	ends, err := adm.ListEndOffsets(ctx, topics...)
	closeAdm()
	if err := listErr(ends, err); err != nil {
		return err
	}
	reset := kgo.NewOffset().AtEnd()
	if !from.IsZero() {
		reset = kgo.NewOffset().AfterMilli(from.UnixMilli())
	}
	cl, err := dial(
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(reset),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	p.Window = Window{From: from}
	fl, _ := p.Out.(Flusher)
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if ferr == nil && !errors.Is(err, context.Canceled) {
				ferr = err
			}
		})
		if ferr != nil {
			return errors.Join(ferr, p.Finish(ctx, start))
		}
		var herr error
		fs.EachRecord(func(r *kgo.Record) {
			if herr == nil {
				herr = p.Handle(ctx, r)
			}
		})
		if herr == nil && fl != nil {
			herr = fl.Flush()
		}
		if herr == nil && p.Repub != nil {
			herr = p.Repub.Flush(ctx)
		}
		if herr != nil {
			return errors.Join(herr, p.Finish(ctx, start))
		}
	}
	// ctx is done: flush what was produced with a fresh context so the
	// last records are not lost to the interrupt.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return p.Finish(fctx, start)
}
