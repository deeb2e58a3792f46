package schemas

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// Decode failures, sorted so a processor can send poison to the DLQ and
// retry the rest. Compare with errors.Is.
var (
	// ErrNotWireFormat: the value does not start with the Confluent magic
	// byte and a 4-byte schema id.
	ErrNotWireFormat = errors.New("not Confluent wire format")
	// ErrUnknownSchema: the registry does not know the value's schema id.
	ErrUnknownSchema = errors.New("unknown schema id")
	// ErrUndecodable: the Avro body does not match its writer schema
	// (truncated, corrupted or written with another schema).
	ErrUndecodable = errors.New("avro body does not match its schema")
)

// PoisonReason names a decode failure for the DLQ's reason header
// ("not_wire_format", "unknown_schema", "undecodable"), or returns "" when
// err is not one — a registry that cannot be reached is retriable, not
// poison. The names are a contract: `provbus dlq --reason` filters on them.
func PoisonReason(err error) string {
	switch {
	case errors.Is(err, ErrNotWireFormat):
		return "not_wire_format"
	case errors.Is(err, ErrUnknownSchema):
		return "unknown_schema"
	case errors.Is(err, ErrUndecodable):
		return "undecodable"
	}
	return ""
}

// Codec reads and writes Confluent-wire-format Avro values through a Schema
// Registry. Writers Use a topic once (registering or finding its schema),
// then Encode with reused buffers; readers Decode any id, fetching and
// caching writer schemas they have not seen. A Codec is safe for concurrent
// use.
type Codec struct {
	client *sr.Client
	// prefix turns a logical topic into the physical one whose subject
	// holds its schema (config topics.prefix).
	prefix string

	topics  sync.Map // topic → *topicSerde, the encoder for its registered schema
	writers sync.Map // schema id → avro.Schema: every writer schema seen so far

	mu          sync.Mutex
	failed      map[int]notFound // ids the registry answered "not found" for, until when
	negativeTTL time.Duration
	now         func() time.Time
}

// notFound is a registry 404 for a schema id, remembered until a time.
type notFound struct {
	err   error
	until time.Time
}

// DefaultNegativeTTL is how long a codec believes a registry's "schema id
// not found": records with that id go to the DLQ without asking again, and
// once it passes the registry is asked again — the schema may have been
// registered since (a registry restored from backup, a producer that
// registered through another registry node).
const DefaultNegativeTTL = 30 * time.Second

// maxNotFound bounds the remembered 404s: garbage ids in poison records
// must not grow the codec without bound. Past it, expired entries are
// pruned, and if that is not enough a 404 is simply not remembered.
const maxNotFound = 4096

type topicSerde struct {
	id     int
	schema avro.Schema
	serde  *sr.Serde
	// layout names the schema's binary layout: two topics with the same
	// layout encode a value to the same bytes after the schema id (their
	// schemas differ at most in names and docs, as handler topics' do;
	// EncodeLike).
	layout string
}

// CodecOption configures a Codec.
type CodecOption func(*Codec)

// WithTopicPrefix names subjects after the physical topics: topic t's
// schema goes under "<prefix><t>-value". Callers keep using logical topic
// names (default: no prefix).
func WithTopicPrefix(prefix string) CodecOption { return func(c *Codec) { c.prefix = prefix } }

// WithNegativeTTL sets how long a registry 404 for a schema id is
// remembered (default DefaultNegativeTTL; d ≤ 0 keeps it).
func WithNegativeTTL(d time.Duration) CodecOption {
	return func(c *Codec) {
		if d > 0 {
			c.negativeTTL = d
		}
	}
}

// NewCodec returns a Codec that talks to the registry through client.
func NewCodec(client *sr.Client, opts ...CodecOption) *Codec {
	c := &Codec{client: client, failed: map[int]notFound{},
		negativeTTL: DefaultNegativeTTL, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Parse parses an Avro schema on its own, so two versions of one named
// record never collide in a shared cache.
func Parse(text string) (avro.Schema, error) {
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("parse avro schema: %w", err)
	}
	return s, nil
}

// Use registers schemaText under the value subject of the (logical) topic
// in the codec's prefix (or finds the identical schema already there) and
// prepares Encode for the topic. It returns the schema id.
func (c *Codec) Use(ctx context.Context, topic, schemaText string) (int, error) {
	schema, err := Parse(schemaText)
	if err != nil {
		return 0, fmt.Errorf("topic %s: %w", topic, err)
	}
	subject := Subject(c.prefix + topic)
	ss, err := c.client.CreateSchema(ctx, subject, sr.Schema{Schema: schemaText, Type: sr.TypeAvro})
	if err != nil {
		return 0, fmt.Errorf("register %s: %w", subject, err)
	}
	ts := &topicSerde{id: ss.ID, schema: schema, serde: sr.NewSerde(), layout: layoutOf(schema)}
	// sr.Serde binds an id to one Go type: the quarantine record or the
	// event envelope.
	switch recordName(schema) {
	case "Quarantined":
		ts.serde.Register(ss.ID, (*Quarantined)(nil), appendEncoder(schema))
	case "Delivery":
		ts.serde.Register(ss.ID, (*Delivery)(nil), deliveryEncoder(schema))
	default:
		ts.serde.Register(ss.ID, (*Event)(nil), appendEncoder(schema))
	}
	c.topics.Store(topic, ts)
	c.writers.Store(ss.ID, schema)
	return ss.ID, nil
}

// Subject is the TopicNameStrategy value subject of a topic.
func Subject(topic string) string { return topic + "-value" }

// Encode appends the wire-format encoding of v (an *Event, *Quarantined or *Delivery)
// for topic to dst. The topic must have been prepared with Use.
func (c *Codec) Encode(dst []byte, topic string, v any) ([]byte, error) {
	ts, ok := c.topic(topic)
	if !ok {
		return dst, fmt.Errorf("schemas: topic %s has no schema in use (call Use first)", topic)
	}
	out, err := ts.serde.AppendEncode(dst, v)
	if err != nil {
		return dst, fmt.Errorf("encode for %s: %w", topic, err)
	}
	return out, nil
}

// SchemaID returns the id Encode writes for topic, and false if the topic is
// not in use.
func (c *Codec) SchemaID(topic string) (int, bool) {
	ts, ok := c.topic(topic)
	if !ok {
		return 0, false
	}
	return ts.id, true
}

// EncodeLike appends topic's wire-format value of v to dst, reusing like —
// the value of v already encoded for likeTopic — when the two topics'
// schemas have the same binary layout (they differ at most in names and
// docs, as handler topics' do): like's body behind topic's schema id, no
// second encoding. Otherwise (or with no like) it encodes v.
func (c *Codec) EncodeLike(dst []byte, topic string, v any, like []byte, likeTopic string) ([]byte, error) {
	ts, ok := c.topic(topic)
	if !ok {
		return dst, fmt.Errorf("schemas: topic %s has no schema in use (call Use first)", topic)
	}
	if from, ok := c.topic(likeTopic); ok && len(like) > 5 && from.layout == ts.layout {
		dst = append(dst, 0, byte(ts.id>>24), byte(ts.id>>16), byte(ts.id>>8), byte(ts.id))
		return append(dst, like[5:]...), nil
	}
	return c.Encode(dst, topic, v)
}

// layoutOf is the schema's canonical form with every name and namespace of
// a record left out: what decides the binary encoding is the fields' order
// and types, not what the record is called.
func layoutOf(s avro.Schema) string {
	rec, ok := s.(*avro.RecordSchema)
	if !ok {
		return s.String()
	}
	var b strings.Builder
	b.WriteString("record{")
	for _, f := range rec.Fields() {
		b.WriteString(f.Name())
		b.WriteByte(':')
		b.WriteString(layoutOf(f.Type()))
		b.WriteByte(';')
	}
	b.WriteByte('}')
	return b.String()
}

func (c *Codec) topic(topic string) (*topicSerde, bool) {
	v, ok := c.topics.Load(topic)
	if !ok {
		return nil, false
	}
	return v.(*topicSerde), true
}

// WriterSchema returns the schema id of a wire-format value, its writer
// schema (fetched from the registry the first time, then kept) and the
// Avro body after the header. Decode is this and Unmarshal; a reader that
// reads the body itself calls it alone. Errors as Decode's.
func (c *Codec) WriterSchema(ctx context.Context, b []byte) (int, avro.Schema, []byte, error) {
	var h sr.ConfluentHeader
	id, body, err := h.DecodeID(b)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%w: %v", ErrNotWireFormat, err)
	}
	s, ok := c.writers.Load(id)
	if !ok {
		if err := c.learn(ctx, id); err != nil {
			return id, nil, nil, err
		}
		if s, ok = c.writers.Load(id); !ok {
			return id, nil, nil, fmt.Errorf("%w: %d", ErrUnknownSchema, id)
		}
	}
	return id, s.(avro.Schema), body, nil
}

// Decode decodes a wire-format value into v (an *Event, *Quarantined or *Delivery),
// resetting v first. It returns the writer's schema id. Errors wrap
// ErrNotWireFormat, ErrUnknownSchema or ErrUndecodable for poison, or the
// registry's error when it could not be reached (retriable).
func (c *Codec) Decode(ctx context.Context, b []byte, v any) (int, error) {
	id, schema, body, err := c.WriterSchema(ctx, b)
	if err != nil {
		return id, err
	}
	reset(v)
	if err := Unmarshal(schema, body, v); err != nil {
		return id, fmt.Errorf("%w: schema id %d: %v", ErrUndecodable, id, err)
	}
	return id, nil
}

// learn fetches a writer schema the codec has not seen.
func (c *Codec) learn(ctx context.Context, id int) error {
	c.mu.Lock()
	failed, ok := c.failed[id]
	c.mu.Unlock()
	if ok && c.now().Before(failed.until) {
		return failed.err
	}
	s, err := c.client.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == 404 {
			err = fmt.Errorf("%w: %d", ErrUnknownSchema, id)
			c.rememberNotFound(id, err)
			return err
		}
		return fmt.Errorf("fetch schema %d: %w", id, err)
	}
	schema, err := Parse(s.Schema)
	if err != nil {
		return fmt.Errorf("%w: schema %d: %v", ErrUnknownSchema, id, err)
	}
	c.writers.Store(id, schema)
	return nil
}

// rememberNotFound keeps a 404 for the negative TTL, within maxNotFound.
func (c *Codec) rememberNotFound(id int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.failed) >= maxNotFound {
		for k, f := range c.failed {
			if !now.Before(f.until) {
				delete(c.failed, k)
			}
		}
		if len(c.failed) >= maxNotFound {
			return
		}
	}
	c.failed[id] = notFound{err: err, until: now.Add(c.negativeTTL)}
}

// recordName is the name of a record schema ("" for any other schema).
func recordName(s avro.Schema) string {
	if rs, ok := s.(*avro.RecordSchema); ok {
		return rs.Name()
	}
	return ""
}

// writerPool recycles Avro writers so encoding allocates nothing per record
// once the buffers have grown.
var writerPool = sync.Pool{New: func() any { return avro.NewWriter(nil, 1024) }}

func appendEncoder(schema avro.Schema) sr.EncodingOpt {
	return sr.AppendEncodeFn(func(dst []byte, v any) ([]byte, error) {
		w := writerPool.Get().(*avro.Writer)
		defer writerPool.Put(w)
		w.Reset(nil)
		w.WriteVal(schema, v)
		if w.Error != nil {
			return dst, w.Error
		}
		return append(dst, w.Buffer()...), nil
	})
}

// readerPool recycles Avro readers (their byte slab) across decodes.
var readerPool = sync.Pool{New: func() any { return avro.NewReader(nil, 0) }}

// Unmarshal decodes the Avro value b of schema into v, as hamba/avro's
// Unmarshal does except in one thing: a value that ends before its last
// field is an error. hamba's Unmarshal takes running out of bytes (io.EOF)
// for success and leaves the rest zero, so a record cut short — a payload,
// ids, attributes gone — decoded as a valid event (FuzzAvroBody found it:
// 27 of the 129 cuts of one event were accepted).
func Unmarshal(schema avro.Schema, b []byte, v any) error {
	r := readerPool.Get().(*avro.Reader)
	r.Reset(b)
	r.Error = nil // Reset keeps the last decode's error
	r.ReadVal(schema, v)
	err := r.Error
	r.Reset(nil) // the pool does not hold on to b
	readerPool.Put(r)
	if err != nil {
		return fmt.Errorf("avro: %w", err)
	}
	return nil
}

// reset zeroes v so fields absent from an older writer schema do not keep
// values from a previous decode into the same value.
func reset(v any) {
	switch t := v.(type) {
	case *Event:
		*t = Event{}
	case *Quarantined:
		*t = Quarantined{}
	case *Delivery:
		*t = Delivery{}
	}
}
