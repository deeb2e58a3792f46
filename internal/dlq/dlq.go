// Package dlq reads dead-lettered (and parked) records and sends them back
// to their source topic once their cause is fixed. `provbus dlq` and the
// console's /ui/dlq both use it, so a redrive is the same wherever it is
// started.
package dlq

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
)

// HeaderRedrivenFrom marks a redriven record with the DLQ position it came
// from ("provbus.dlq/0:12"), so a second redrive of the same record can be
// recognised.
const HeaderRedrivenFrom = "provbus.redriven_from"

// Entry is one DLQ or parking record with the headers saying why it failed
// and where it came from.
type Entry struct {
	Partition int32       `json:"partition"`
	Offset    int64       `json:"offset"`
	Time      time.Time   `json:"time"`
	Reason    string      `json:"reason"`
	Error     string      `json:"error"`
	Source    string      `json:"source_topic"`
	SourcePos string      `json:"source_position"` // partition@offset
	Group     string      `json:"group"`
	Key       string      `json:"key"`
	EventType string      `json:"event_type,omitempty"`
	Record    *kgo.Record `json:"-"`
}

// EntryOf reads the DLQ headers of r.
func EntryOf(r *kgo.Record) Entry {
	h := func(k string) string { v, _ := records.Header(r, k); return v }
	p, o := h(records.HeaderDLQPartition), h(records.HeaderDLQOffset)
	return Entry{
		Partition: r.Partition, Offset: r.Offset, Time: r.Timestamp.UTC(),
		Reason: h(records.HeaderDLQReason), Error: h(records.HeaderDLQError),
		Source: h(records.HeaderDLQTopic), SourcePos: p + "@" + o, Group: h(records.HeaderDLQGroup),
		Key: string(r.Key), EventType: h(schemas.HeaderEventType), Record: r,
	}
}

// Outcome is what Redrive did with one entry.
type Outcome struct {
	Pos  string // partition:offset in the DLQ
	To   string // the source topic
	Sent bool   // false: skipped, see Why
	Why  string
}

// Redrive produces each entry back to its source topic, without the DLQ
// and parking headers, keyed as before so it lands on the partition it
// came from, and marked with HeaderRedrivenFrom. With decodable, entries
// whose value still does not decode are skipped. With dryRun nothing is
// sent. It stops at the first produce failure, returning what it did so
// far.
func Redrive(ctx context.Context, cl *kgo.Client, codec *schemas.Codec, from string, entries []Entry, decodable, dryRun bool) ([]Outcome, error) {
	var out []Outcome
	var ev schemas.Event
	for _, en := range entries {
		o := Outcome{Pos: fmt.Sprintf("%d:%d", en.Partition, en.Offset), To: en.Source}
		if en.Source == "" {
			o.Why = "no " + records.HeaderDLQTopic + " header"
			out = append(out, o)
			continue
		}
		if decodable {
			if _, err := codec.Decode(ctx, en.Record.Value, &ev); err != nil {
				o.Why = "still does not decode: " + err.Error()
				out = append(out, o)
				continue
			}
		}
		r := &kgo.Record{Topic: en.Source, Key: en.Record.Key, Value: en.Record.Value}
		for _, h := range en.Record.Headers {
			if !strings.HasPrefix(h.Key, "provbus.dlq.") && !strings.HasPrefix(h.Key, "provbus.parking.") && h.Key != HeaderRedrivenFrom {
				r.Headers = append(r.Headers, h)
			}
		}
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderRedrivenFrom, Value: []byte(from + "/" + o.Pos)})
		if !dryRun {
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				return out, fmt.Errorf("redrive %s to %s: %w", o.Pos, en.Source, err)
			}
		}
		o.Sent = true
		out = append(out, o)
	}
	return out, nil
}
