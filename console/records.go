package console

import (
	"context"
	"errors"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/eventlog"
)

// Reading records for a page is bounded: the newest latestN of a topic
// (each partition's tail), one record by offset, and an exact count only
// when the topic is small enough to read whole (exactCountMax offsets).
const (
	latestN       = 50
	exactCountMax = 5000
)

// latest is the newest records of a topic.
type latest struct {
	Records []*kgo.Record // newest first, at most n
	Count   int64         // records (exact when Exact) or offsets
	Exact   bool
	Missing bool // the topic does not exist (not provisioned yet)
}

// readLatest returns the newest n committed records of topic (physical),
// or Missing when the topic does not exist,
// reading each partition's last n offsets; when the whole topic is at most
// exactCountMax offsets it reads all of it to count its records exactly
// (transactional topics hold commit markers between records).
func (s *Server) readLatest(ctx context.Context, topic string, n int) (latest, error) {
	adm, done, err := s.admin()
	if err != nil {
		return latest{}, err
	}
	defer done()
	ranges, err := eventlog.Plan(ctx, adm, []string{topic}, eventlog.Window{}, nil)
	if errors.Is(err, eventlog.ErrEmptyWindow) {
		return latest{Exact: true}, nil
	}
	if errors.Is(err, eventlog.ErrUnknownTopic) {
		return latest{Missing: true}, nil
	}
	if err != nil {
		return latest{}, err
	}
	out := latest{Count: eventlog.Total(ranges)}
	out.Exact = out.Count <= exactCountMax
	if !out.Exact {
		for i := range ranges {
			if r := &ranges[i]; r.End-r.Start > int64(n) {
				r.Start = r.End - int64(n)
			}
		}
	}
	var recs []*kgo.Record
	var records int64
	err = eventlog.Read(ctx, s.dial, ranges, nil, func(r *kgo.Record) error {
		records++
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return latest{}, err
	}
	if out.Exact {
		out.Count = records
	}
	sort.Slice(recs, func(i, j int) bool {
		if !recs[i].Timestamp.Equal(recs[j].Timestamp) {
			return recs[i].Timestamp.After(recs[j].Timestamp)
		}
		return recs[i].Offset > recs[j].Offset
	})
	if len(recs) > n {
		recs = recs[:n]
	}
	out.Records = recs
	return out, nil
}

// readOne returns the committed record at topic/partition/offset, or a 404
// when the offset is outside the partition's committed range or holds a
// transaction marker.
func (s *Server) readOne(ctx context.Context, topic string, partition int32, offset int64) (*kgo.Record, error) {
	adm, done, err := s.admin()
	if err != nil {
		return nil, err
	}
	defer done()
	stable, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	end, ok := stable.Lookup(topic, partition)
	start, ok2 := starts.Lookup(topic, partition)
	if !ok || !ok2 || end.Err != nil {
		return nil, notFound("%s has no partition %d", topic, partition)
	}
	if offset < start.Offset || offset >= end.Offset {
		return nil, notFound("%s[%d] holds committed offsets %d to %d; %d is not one of them", topic, partition, start.Offset, end.Offset-1, offset)
	}
	var rec *kgo.Record
	err = eventlog.Read(ctx, s.dial, []eventlog.Range{{Topic: topic, Partition: partition, Start: offset, End: offset + 1}}, nil,
		func(r *kgo.Record) error { rec = r; return nil })
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, notFound("%s[%d]@%d is a transaction marker or an aborted record, not an event", topic, partition, offset)
	}
	return rec, nil
}

// admin returns an admin client over a fresh client and its closer; pages
// that read records open their own consumers anyway.
func (s *Server) admin() (*kadm.Client, func(), error) {
	cl, err := s.dial()
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl.Close, nil
}
