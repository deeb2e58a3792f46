package state

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadToEnd reads partitions of topic (nil: all) from their start to the end
// offsets they had when it was called, calling fn for each record in
// partition order, and returns those end offsets. It ends when every
// partition reached its end, never on a quiet period. The topics it is
// used on are written without transactions, so the high watermark is the
// end. kopts say how to connect (seed brokers, TLS, SASL).
func ReadToEnd(ctx context.Context, kopts []kgo.Opt, topic string, partitions []int32, fn func(*kgo.Record)) (map[int32]int64, error) {
	return ReadSince(ctx, kopts, topic, partitions, time.Time{}, fn)
}

// ReadSince is ReadToEnd from the first record at or after since (zero:
// from the start).
func ReadSince(ctx context.Context, kopts []kgo.Opt, topic string, partitions []int32, since time.Time, fn func(*kgo.Record)) (map[int32]int64, error) {
	admCl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, err
	}
	adm := kadm.NewClient(admCl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	var starts kadm.ListedOffsets
	if err == nil && !since.IsZero() {
		starts, err = adm.ListOffsetsAfterMilli(ctx, since.UnixMilli(), topic)
		if err == nil {
			err = starts.Error()
		}
	} else if err == nil {
		starts, err = adm.ListStartOffsets(ctx, topic)
		if err == nil {
			err = starts.Error()
		}
	}
	admCl.Close()
	if err != nil {
		return nil, fmt.Errorf("offsets of %s: %w", topic, err)
	}
	want := map[int32]bool{}
	for _, p := range partitions {
		want[p] = true
	}
	end := map[int32]int64{}
	consume := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if len(want) > 0 && !want[o.Partition] {
			return
		}
		end[o.Partition] = o.Offset
		s, _ := starts.Lookup(topic, o.Partition)
		if o.Offset > s.Offset {
			consume[o.Partition] = kgo.NewOffset().At(s.Offset)
		}
	})
	if len(consume) == 0 {
		return end, nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), kopts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: consume}),
		kgo.FetchMaxWait(200*time.Millisecond))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	left := len(consume)
	done := map[int32]bool{}
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err := fs.Err0(); err != nil {
			return nil, fmt.Errorf("read %s: %w", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if done[r.Partition] || r.Offset >= end[r.Partition] {
				return
			}
			fn(r)
			if r.Offset >= end[r.Partition]-1 {
				done[r.Partition] = true
				left--
			}
		})
	}
	return end, nil
}
