package console

import (
	"context"
	"errors"
	"sort"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/eventlog"
	"github.com/provbus/provbus/schemas"
)

// simLookupOffsets bounds the search for a SIM's MSISDN: the newest
// offsets of each partition of the topics keyed by MSISDN. No topic is
// keyed by the SIM serial, so a SIM is found by reading and decoding, and
// a page must not read a topic whole to do it.
const simLookupOffsets = 2_000

// simMSISDNs returns the MSISDNs the SIM serial sim appears with in the
// newest simLookupOffsets offsets of every partition of the topics keyed
// by msisdn, the most recent first.
func (s *Server) simMSISDNs(ctx context.Context, sim string) ([]string, error) {
	var topics []string
	for _, d := range s.cat.Domains() {
		if d.Key == "msisdn" {
			topics = append(topics, s.ns.Topic(d.Topic))
		}
	}
	if len(topics) == 0 {
		return nil, nil
	}
	adm, done, err := s.admin()
	if err != nil {
		return nil, err
	}
	defer done()
	ranges, err := eventlog.Plan(ctx, adm, topics, eventlog.Window{}, nil)
	if errors.Is(err, eventlog.ErrEmptyWindow) || errors.Is(err, eventlog.ErrUnknownTopic) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for i := range ranges {
		if r := &ranges[i]; r.Len() > simLookupOffsets {
			r.Start = r.End - simLookupOffsets
		}
	}
	last := map[string]int64{} // msisdn → newest timestamp seen with the SIM
	var ev schemas.Event
	err = eventlog.Read(ctx, s.dial, ranges, nil, func(r *kgo.Record) error {
		if _, err := s.codec.Decode(ctx, r.Value, &ev); err != nil {
			return nil // the DLQ's business, not the lookup's
		}
		if ev.SIMSerial != nil && *ev.SIMSerial == sim && ev.MSISDN != nil {
			if ts := r.Timestamp.UnixMilli(); ts >= last[*ev.MSISDN] {
				last[*ev.MSISDN] = ts
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(last))
	for m := range last {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return last[out[i]] > last[out[j]] })
	return out, nil
}
