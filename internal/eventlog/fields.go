package eventlog

import (
	"strconv"
	"strings"
	"time"

	"github.com/provbus/provbus/schemas"
)

// TimeLayout is how every writer prints a timestamp: ISO 8601 in UTC with
// milliseconds, the precision Kafka and the Avro timestamp-millis fields
// have.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// RecordColumns are the Kafka coordinates every row starts with, so a row
// can be found again (kcat -o, provbus replay --topic … --from …).
var RecordColumns = []string{"topic", "partition", "offset", "timestamp", "key"}

// EnvelopeFields are the envelope fields of design §2 in schema order,
// without the typed ids, attributes and payload.
var EnvelopeFields = []string{
	"event_id", "source", "event_type", "occurred_at", "received_at", "occurred_at_estimated",
	"origin", "parent_event_id", "inherited_from", "fan_out_index", "fan_out_count", "instance",
}

// isField reports whether name is an envelope field, typed id or payload:
// a name Field answers for.
func isField(name string) bool {
	for _, f := range EnvelopeFields {
		if f == name {
			return true
		}
	}
	if name == "payload" {
		return true
	}
	for _, src := range schemas.Sources {
		for _, id := range schemas.IDFields(src) {
			if id.Name == name {
				return true
			}
		}
	}
	return false
}

// Field returns the value of an envelope field, typed id or "payload" as the
// string the writers print, and false when the event does not carry it
// (a nil id or parent). Attributes are read with "attr.<name>".
func Field(ev *schemas.Event, name string) (string, bool) {
	switch name {
	case "event_id":
		return ev.EventID, true
	case "source":
		return ev.Source, true
	case "event_type":
		return ev.EventType, true
	case "occurred_at":
		return formatTime(ev.OccurredAt), true
	case "received_at":
		return formatTime(ev.ReceivedAt), true
	case "occurred_at_estimated":
		return strconv.FormatBool(ev.OccurredAtEstimated), true
	case "origin":
		return ev.Origin, true
	case "parent_event_id":
		return deref(ev.ParentEventID)
	case "inherited_from":
		return deref(ev.InheritedFrom)
	case "fan_out_index":
		return derefInt(ev.FanOutIndex)
	case "fan_out_count":
		return derefInt(ev.FanOutCount)
	case "instance":
		return deref(ev.Instance)
	case "payload":
		return ev.Payload, true
	}
	if a, ok := strings.CutPrefix(name, "attr."); ok {
		v, ok := ev.Attributes[a]
		return v, ok
	}
	return ev.Key(name)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}

func deref(p *string) (string, bool) {
	if p == nil {
		return "", false
	}
	return *p, true
}

func derefInt(p *int32) (string, bool) {
	if p == nil {
		return "", false
	}
	return strconv.Itoa(int(*p)), true
}

// idColumns returns the typed ids of the given sources, in schema order and
// without repeats: the id columns of a CSV over topics of those sources.
func idColumns(sources []string) []string {
	var out []string
	for _, src := range schemas.Sources {
		want := false
		for _, s := range sources {
			want = want || s == src
		}
		if !want {
			continue
		}
		for _, id := range schemas.IDFields(src) {
			out = append(out, id.Name)
		}
	}
	return out
}

// TopicSources returns the sources whose ids the values of the given topics
// can carry: a domain topic its own source, a handler topic all of them.
// The CSV header depends on this alone, so it is stable for a selection.
func TopicSources(topics []string) []string {
	set := map[string]bool{}
	for _, t := range topics {
		src, _, _ := strings.Cut(t, ".")
		if schemas.IDFields(src) != nil {
			set[src] = true
			continue
		}
		for _, s := range schemas.Sources {
			set[s] = true
		}
	}
	var out []string
	for _, s := range schemas.Sources {
		if set[s] {
			out = append(out, s)
		}
	}
	return out
}
