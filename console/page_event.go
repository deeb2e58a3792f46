package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// maxShown bounds how much of a value or payload a page prints.
const maxShown = 64 << 10

// validTopic is Kafka's topic alphabet; anything else is a 400 before any
// request reaches the cluster.
var validTopic = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// field is one name/value line of the envelope.
type field struct{ Name, Value string }

func (s *Server) eventPage(ctx context.Context, r *http.Request) (view, error) {
	topic := r.PathValue("topic")
	if !validTopic.MatchString(topic) {
		return view{}, badRequest("topic %q is not a Kafka topic name", topic)
	}
	if !s.topics[topic] {
		// Another application's topic (a Connect config topic holds
		// passwords) is not the console's to show, whatever the console's
		// Kafka user may read.
		return view{}, notFound("%q is not a provbus topic", topic)
	}
	p, err1 := strconv.ParseInt(r.PathValue("partition"), 10, 32)
	o, err2 := strconv.ParseInt(r.PathValue("offset"), 10, 64)
	if err1 != nil || err2 != nil || p < 0 || o < 0 {
		return view{}, badRequest("want /ui/events/{topic}/{partition}/{offset} with two non-negative integers")
	}
	rec, err := s.readOne(ctx, topic, int32(p), o)
	if err != nil {
		return view{}, err
	}
	data := struct {
		R           *kgo.Record
		Key         string
		Headers     []field
		SchemaID    int
		Subjects    []string
		SubjectErr  string
		Envelope    []field
		Attributes  []field
		Payload     string
		Quarantined *schemas.Quarantined
		Body        string
		DecodeErr   string
		Raw         string
		Parent      string
		ParentID    string
		Handler     string
	}{R: rec, Key: printable(rec.Key)}
	for _, h := range rec.Headers {
		data.Headers = append(data.Headers, field{h.Key, printable(h.Value)})
	}
	var hdr sr.ConfluentHeader
	if id, _, err := hdr.DecodeID(rec.Value); err == nil {
		data.SchemaID = id
		if s.registry != nil {
			if subs, err := s.registry.SubjectsByID(ctx, id); err != nil {
				data.SubjectErr = err.Error()
			} else {
				data.Subjects = subs
			}
		}
	}
	if logical, ok := s.ns.Logical(topic); ok && strings.HasPrefix(logical, topology.HandlerTopicPrefix) {
		data.Handler = strings.TrimPrefix(logical, topology.HandlerTopicPrefix)
	}
	if l, _ := s.ns.Logical(topic); l == topology.TopicQuarantine {
		q := new(schemas.Quarantined)
		if _, err := s.codec.Decode(ctx, rec.Value, q); err != nil {
			data.DecodeErr = err.Error()
		} else {
			data.Quarantined, data.Body = q, pretty(q.Body)
		}
	} else {
		ev := new(schemas.Event)
		if _, err := s.codec.Decode(ctx, rec.Value, ev); err != nil {
			data.DecodeErr = err.Error()
		} else {
			data.Envelope = envelope(ev)
			for k, v := range ev.Attributes {
				data.Attributes = append(data.Attributes, field{k, v})
			}
			sort.Slice(data.Attributes, func(i, j int) bool { return data.Attributes[i].Name < data.Attributes[j].Name })
			data.Payload = pretty([]byte(ev.Payload))
			data.Parent = s.parentHref(ev)
			if ev.ParentEventID != nil {
				data.ParentID = *ev.ParentEventID
			}
		}
	}
	if data.DecodeErr != "" {
		data.Raw = printable(rec.Value)
	}
	return view{tmpl: "event", title: fmt.Sprintf("%s[%d]@%d", topic, p, o), data: data}, nil
}

// parentHref links an inherited event to the timeline of the entity its
// parent belongs to, where the parent is found by id.
func (s *Server) parentHref(ev *schemas.Event) string {
	if ev.ParentEventID == nil || ev.InheritedFrom == nil {
		return ""
	}
	switch *ev.InheritedFrom {
	case schemas.InheritedFromCustomer:
		if ev.ICustomer != nil {
			return fmt.Sprintf("%sentities?customer=%d", Prefix, *ev.ICustomer)
		}
	case schemas.InheritedFromProduct:
		if ev.IProduct != nil {
			return fmt.Sprintf("%sentities?product=%d", Prefix, *ev.IProduct)
		}
	}
	if ev.IAccount != nil {
		return fmt.Sprintf("%sentities?account=%d", Prefix, *ev.IAccount)
	}
	return ""
}

// envelope lists the event's fields by their Avro names (the contract of
// design §2), leaving out attributes and payload, which have their own
// sections, and null ids.
func envelope(ev *schemas.Event) []field {
	var out []field
	v := reflect.ValueOf(ev).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		name := t.Field(i).Tag.Get("avro")
		if name == "" || name == "attributes" || name == "payload" {
			continue
		}
		f := v.Field(i)
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				continue
			}
			f = f.Elem()
		}
		val := fmt.Sprint(f.Interface())
		if tm, ok := f.Interface().(time.Time); ok {
			val = tm.UTC().Format(time.RFC3339Nano)
		}
		out = append(out, field{name, val})
	}
	return out
}

// pretty indents JSON; anything else is shown as printable text.
func pretty(b []byte) string {
	var buf bytes.Buffer
	if json.Indent(&buf, b, "", "  ") == nil {
		return clip(buf.String())
	}
	return printable(b)
}

// printable shows bytes as text when they are UTF-8, else as escaped Go
// string syntax, clipped to maxShown.
func printable(b []byte) string {
	if utf8.Valid(b) {
		return clip(string(b))
	}
	if len(b) > maxShown {
		b = b[:maxShown]
	}
	return strconv.Quote(string(b))
}

func clip(s string) string {
	if len(s) > maxShown {
		return s[:maxShown] + "… (clipped)"
	}
	return s
}
