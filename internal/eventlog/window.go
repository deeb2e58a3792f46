package eventlog

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Window is a half-open time range [From, To) of record timestamps. A zero
// From means the start of each partition, a zero To the last stable offset
// when the window is planned.
type Window struct {
	From, To time.Time
}

// Contains reports whether ts falls inside w. Producers set record
// timestamps, so a partition's timestamps are not strictly monotonic and the
// offsets planned from the window may hold a few records just outside it.
func (w Window) Contains(ts time.Time) bool {
	if !w.From.IsZero() && ts.Before(w.From) {
		return false
	}
	if !w.To.IsZero() && !ts.Before(w.To) {
		return false
	}
	return true
}

// String renders w for error messages.
func (w Window) String() string {
	f, t := "start", "now"
	if !w.From.IsZero() {
		f = w.From.UTC().Format(time.RFC3339Nano)
	}
	if !w.To.IsZero() {
		t = w.To.UTC().Format(time.RFC3339Nano)
	}
	return "[" + f + ", " + t + ")"
}

// ParseTime reads a window edge: RFC 3339 ("2024-05-01T10:00:00Z"), a bare
// date ("2024-05-01", midnight UTC), or a duration relative to now ("-24h",
// "-7d", "-90m"; d is 24 h, w 7 d). "" is the zero time (open edge).
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "now" {
		if s == "now" {
			return now, nil
		}
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if s[0] == '-' || s[0] == '+' {
		d, err := parseRelative(s[1:])
		if err != nil {
			return time.Time{}, fmt.Errorf("time %q: %w", s, err)
		}
		if s[0] == '-' {
			d = -d
		}
		return now.Add(d), nil
	}
	return time.Time{}, fmt.Errorf("time %q: want RFC 3339, YYYY-MM-DD or a relative duration such as -24h or -7d", s)
}

// parseRelative extends time.ParseDuration with days and weeks, which
// analysts think in and Go's parser lacks.
func parseRelative(s string) (time.Duration, error) {
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(n, 64)
			if err != nil {
				return 0, err
			}
			return time.Duration(f * float64(u.unit)), nil
		}
	}
	return time.ParseDuration(s)
}

// Range is the offsets of one partition to read: [Start, End).
type Range struct {
	Topic     string
	Partition int32
	Start     int64
	End       int64
}

// Len is the number of offsets in r.
func (r Range) Len() int64 {
	if r.End <= r.Start {
		return 0
	}
	return r.End - r.Start
}

// Plan turns a window into offset ranges of the given topics (every
// partition when partitions is nil, else only the listed ones per topic).
// Start is the first offset at or after w.From; End is the first offset at or
// after w.To, clamped to the last stable offset. Empty ranges are dropped;
// no range at all is ErrEmptyWindow. A topic the cluster does not know is
// ErrUnknownTopic.
func Plan(ctx context.Context, adm *kadm.Client, topics []string, w Window, partitions map[string][]int32) ([]Range, error) {
	if len(topics) == 0 {
		return nil, ErrNoTopics
	}
	stable, err := adm.ListCommittedOffsets(ctx, topics...)
	if err := listErr(stable, err); err != nil {
		return nil, err
	}
	var starts, ends kadm.ListedOffsets
	if !w.From.IsZero() {
		starts, err = adm.ListOffsetsAfterMilli(ctx, w.From.UnixMilli(), topics...)
	} else {
		starts, err = adm.ListStartOffsets(ctx, topics...)
	}
	if err := listErr(starts, err); err != nil {
		return nil, err
	}
	if !w.To.IsZero() {
		ends, err = adm.ListOffsetsAfterMilli(ctx, w.To.UnixMilli(), topics...)
		if err := listErr(ends, err); err != nil {
			return nil, err
		}
	}
	var out []Range
	stable.Each(func(lo kadm.ListedOffset) {
		if want, ok := partitions[lo.Topic]; partitions != nil && (!ok || !containsPartition(want, lo.Partition)) {
			return
		}
		r := Range{Topic: lo.Topic, Partition: lo.Partition, End: lo.Offset}
		if s, ok := starts.Lookup(lo.Topic, lo.Partition); ok {
			r.Start = s.Offset
		}
		if ends != nil {
			if e, ok := ends.Lookup(lo.Topic, lo.Partition); ok && e.Offset < r.End {
				r.End = e.Offset
			}
		}
		if r.Len() > 0 {
			out = append(out, r)
		}
	})
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no records in %s of %s", ErrEmptyWindow, w, strings.Join(topics, ", "))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out, nil
}

// listErr folds kadm's two error channels (the request, and per-partition
// codes such as the -1 partition kadm adds for a missing topic) into one,
// naming the topic.
func listErr(l kadm.ListedOffsets, err error) error {
	if err != nil {
		return fmt.Errorf("list offsets: %w", err)
	}
	var first error
	l.Each(func(lo kadm.ListedOffset) {
		if lo.Err == nil || first != nil {
			return
		}
		if errors.Is(lo.Err, kerr.UnknownTopicOrPartition) {
			first = fmt.Errorf("%w: %s", ErrUnknownTopic, lo.Topic)
			return
		}
		first = fmt.Errorf("list offsets of %s[%d]: %w", lo.Topic, lo.Partition, lo.Err)
	})
	return first
}

func containsPartition(ps []int32, p int32) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// Total sums the offsets of rs: the denominator of the progress bar.
func Total(rs []Range) int64 {
	var n int64
	for _, r := range rs {
		n += r.Len()
	}
	return n
}
