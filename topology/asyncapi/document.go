package asyncapi

import "encoding/json"

// Version is the AsyncAPI specification version Build writes.
const Version = "3.0.0"

// AvroFormat is the schemaFormat of the Avro payloads: the Apache Avro
// version the AsyncAPI tooling understands for the schemas under schemas/.
const AvroFormat = "application/vnd.apache.avro;version=1.9.0"

// kafkaBindingVersion is the version of the AsyncAPI Kafka bindings used.
const kafkaBindingVersion = "0.5.0"

// Document is an AsyncAPI 3.0 document, restricted to the parts provbus
// fills. Maps marshal with sorted keys, so the output is stable.
type Document struct {
	AsyncAPI           string               `json:"asyncapi"`
	Info               Info                 `json:"info"`
	DefaultContentType string               `json:"defaultContentType,omitempty"`
	Servers            map[string]Server    `json:"servers,omitempty"`
	Channels           map[string]Channel   `json:"channels"`
	Operations         map[string]Operation `json:"operations,omitempty"`
	Components         Components           `json:"components"`
}

// Info is the document's metadata.
type Info struct {
	Title       string `json:"title"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
}

// Server is a Kafka cluster (with its Schema Registry in the bindings).
type Server struct {
	Host        string         `json:"host"`
	Protocol    string         `json:"protocol"`
	Description string         `json:"description,omitempty"`
	Security    []Ref          `json:"security,omitempty"`
	Bindings    ServerBindings `json:"bindings"`
}

// ServerBindings holds the Kafka server binding.
type ServerBindings struct {
	Kafka KafkaServer `json:"kafka"`
}

// KafkaServer is the Kafka server binding: where the Schema Registry is.
type KafkaServer struct {
	SchemaRegistryURL    string `json:"schemaRegistryUrl,omitempty"`
	SchemaRegistryVendor string `json:"schemaRegistryVendor,omitempty"`
	BindingVersion       string `json:"bindingVersion"`
}

// Channel is one topic.
type Channel struct {
	Address     string          `json:"address"`
	Title       string          `json:"title,omitempty"`
	Summary     string          `json:"summary,omitempty"`
	Description string          `json:"description,omitempty"`
	Messages    map[string]Ref  `json:"messages"`
	Tags        []Tag           `json:"tags,omitempty"`
	Bindings    ChannelBindings `json:"bindings"`
}

// ChannelBindings holds the Kafka channel binding.
type ChannelBindings struct {
	Kafka KafkaChannel `json:"kafka"`
}

// KafkaChannel is the Kafka channel binding: the topic as topology apply
// creates it.
type KafkaChannel struct {
	Topic      string `json:"topic"`
	Partitions int32  `json:"partitions,omitempty"`
	Replicas   int    `json:"replicas,omitempty"`
	// TopicConfiguration holds the managed topic configs, typed as the
	// binding's schema wants (cleanup.policy a list, *.ms integers).
	TopicConfiguration map[string]any `json:"topicConfiguration,omitempty"`
	BindingVersion     string         `json:"bindingVersion"`
}

// Operation is something provbus does on a channel.
type Operation struct {
	Action      string `json:"action"` // send or receive
	Channel     Ref    `json:"channel"`
	Summary     string `json:"summary,omitempty"`
	Description string `json:"description,omitempty"`
	Messages    []Ref  `json:"messages,omitempty"`
}

// Components holds the messages, payload schemas and security schemes the
// channels refer to.
type Components struct {
	// Schemas are keyed by Schema Registry subject (<topic>-value) for
	// Avro payloads, or <topic>-value for the JSON and raw ones.
	Schemas         map[string]json.RawMessage `json:"schemas,omitempty"`
	Messages        map[string]Message         `json:"messages,omitempty"`
	SecuritySchemes map[string]SecurityScheme  `json:"securitySchemes,omitempty"`
}

// Message is the record a topic carries.
type Message struct {
	Name        string          `json:"name"`
	Title       string          `json:"title,omitempty"`
	Summary     string          `json:"summary,omitempty"`
	Description string          `json:"description,omitempty"`
	ContentType string          `json:"contentType,omitempty"`
	Headers     *Schema         `json:"headers,omitempty"`
	Payload     Ref             `json:"payload"`
	Bindings    MessageBindings `json:"bindings"`
	// EventTypes lists the catalog's event types the topic carries (the
	// x-provbus-event-types extension), for catalogs that index them.
	EventTypes []EventType `json:"x-provbus-event-types,omitempty"`
}

// EventType is one catalog event type a message may be.
type EventType struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Aliases     []string `json:"aliases,omitempty"`
	// Origins are DIRECT and/or INHERITED: which forms a handler topic
	// receives.
	Origins []string `json:"origins,omitempty"`
}

// MessageBindings holds the Kafka message binding.
type MessageBindings struct {
	Kafka KafkaMessage `json:"kafka"`
}

// KafkaMessage is the Kafka message binding: the key and where the schema
// id is.
type KafkaMessage struct {
	Key                     Schema `json:"key"`
	SchemaIDLocation        string `json:"schemaIdLocation,omitempty"`
	SchemaIDPayloadEncoding string `json:"schemaIdPayloadEncoding,omitempty"`
	SchemaLookupStrategy    string `json:"schemaLookupStrategy,omitempty"`
	BindingVersion          string `json:"bindingVersion"`
}

// Schema is the subset of an AsyncAPI (JSON Schema) schema object used for
// keys, headers and JSON payloads.
type Schema struct {
	Type        string            `json:"type,omitempty"`
	Format      string            `json:"format,omitempty"`
	Description string            `json:"description,omitempty"`
	Enum        []string          `json:"enum,omitempty"`
	Properties  map[string]Schema `json:"properties,omitempty"`
	Required    []string          `json:"required,omitempty"`
	// Nullable also allows null (JSON payloads' optional fields).
	Nullable bool `json:"-"`
}

// MarshalJSON writes a nullable schema's type as [type, "null"].
func (s Schema) MarshalJSON() ([]byte, error) {
	type plain Schema // no methods: no recursion
	if !s.Nullable || s.Type == "" {
		return json.Marshal(plain(s))
	}
	p := plain(s)
	p.Type = ""
	return json.Marshal(struct {
		Type []string `json:"type"`
		plain
	}{Type: []string{s.Type, "null"}, plain: p})
}

// MultiFormatSchema is a payload schema in a format other than JSON
// Schema: here, Avro.
type MultiFormatSchema struct {
	SchemaFormat string          `json:"schemaFormat"`
	Schema       json.RawMessage `json:"schema"`
}

// SecurityScheme describes how clients authenticate to the brokers.
type SecurityScheme struct {
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
}

// Tag groups channels (by role and by source).
type Tag struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Ref is an AsyncAPI Reference Object.
type Ref struct {
	Ref string `json:"$ref"`
}

// ref returns a local reference to a path under the document root; topic
// names hold no "/" or "~", so no JSON Pointer escaping is needed.
func ref(path ...string) Ref {
	r := "#"
	for _, p := range path {
		r += "/" + p
	}
	return Ref{Ref: r}
}
