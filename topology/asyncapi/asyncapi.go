// Package asyncapi renders provbus's topic layout as an AsyncAPI 3.0
// document, for data platform teams' catalogs: every topic topology apply
// creates, with its Avro value schema (the same one schemas register under
// <topic>-value), its key, its Kafka configuration and what the catalog says
// about it (the event types of a domain topic, the subscriptions of a
// handler topic, the inheritance rules of the derived topic).
//
// The document is data derived from the catalog and the layout, like the
// layout itself: `provbus topology asyncapi` writes it, and the package's
// test validates it against the official AsyncAPI JSON Schema.
package asyncapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// Options are the deployment-dependent parts of the document. The zero
// value gives a document with no servers.
type Options struct {
	// Title is info.title (default "provbus").
	Title string
	// APIVersion is info.version (default "1.0.0": the io.provbus.v1
	// record contract).
	APIVersion string
	// Brokers are the seed brokers; the first becomes the server's host.
	// None: the document has no servers section.
	Brokers []string
	// RegistryURL is the Schema Registry the server binding names.
	RegistryURL string
	// TLS makes the server's protocol kafka-secure.
	TLS bool
	// SASLMechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; "" = none) adds
	// the matching security scheme.
	SASLMechanism string
	// ReplicationFactor is the replicas the channel bindings report
	// (0 = not stated).
	ReplicationFactor int
}

// ErrEmpty is returned by Build for a layout with no topics.
var ErrEmpty = errors.New("asyncapi: no topics")

// Build returns the AsyncAPI document of specs (as Catalog.Layout returns
// them), described from cat.
func Build(cat *topology.Catalog, specs []topology.TopicSpec, o Options) (*Document, error) {
	if len(specs) == 0 {
		return nil, ErrEmpty
	}
	if o.Title == "" {
		o.Title = "provbus"
	}
	if o.APIVersion == "" {
		o.APIVersion = "1.0.0"
	}
	d := &Document{
		AsyncAPI:           Version,
		Info:               Info{Title: o.Title, Version: o.APIVersion, Description: infoDescription},
		DefaultContentType: "application/vnd.confluent.avro",
		Channels:           map[string]Channel{},
		Operations:         map[string]Operation{},
		Components: Components{
			Schemas:  map[string]json.RawMessage{},
			Messages: map[string]Message{},
		},
	}
	if err := addServer(d, o); err != nil {
		return nil, err
	}
	desc := newDescriber(cat)
	for _, s := range specs {
		if err := addTopic(d, desc, s, o.ReplicationFactor); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// JSON returns the document as indented JSON.
func (d *Document) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // descriptions hold "->" and "<topic>"
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("asyncapi: %w", err)
	}
	return buf.Bytes(), nil
}

const infoDescription = "provbus turns the provisioning events of billing and connectivity " +
	"platforms (PortaBilling ESPF, Transatel, JeraSoft VCS) into durable, schema-checked, " +
	"replayable Kafka topics, and hands every provisioning target a handler topic with exactly " +
	"the events it subscribes to.\n\n" +
	"Record values are Confluent wire format (magic byte 0, 4-byte schema id, Avro binary), " +
	"subject `<topic>-value`, compatibility BACKWARD_TRANSITIVE. Record keys are the entity id " +
	"as a UTF-8 string, partitioned with Kafka's default murmur2 partitioner. Event records " +
	"repeat `event_type`, `source` and `origin` as headers."

func addServer(d *Document, o Options) error {
	if len(o.Brokers) == 0 {
		return nil
	}
	s := Server{
		Host:     o.Brokers[0],
		Protocol: "kafka",
		Bindings: ServerBindings{Kafka: KafkaServer{BindingVersion: kafkaBindingVersion}},
	}
	if len(o.Brokers) > 1 {
		s.Description = "Seed brokers: " + strings.Join(o.Brokers, ", ") + "."
	}
	if o.TLS {
		s.Protocol = "kafka-secure"
	}
	if o.RegistryURL != "" {
		s.Bindings.Kafka.SchemaRegistryURL = o.RegistryURL
		s.Bindings.Kafka.SchemaRegistryVendor = "confluent"
	}
	if o.SASLMechanism != "" {
		typ, ok := map[string]string{"PLAIN": "plain", "SCRAM-SHA-256": "scramSha256", "SCRAM-SHA-512": "scramSha512"}[strings.ToUpper(o.SASLMechanism)]
		if !ok {
			return fmt.Errorf("asyncapi: unknown SASL mechanism %q", o.SASLMechanism)
		}
		d.Components.SecuritySchemes = map[string]SecurityScheme{
			"kafka-sasl": {Type: typ, Description: "SASL " + strings.ToUpper(o.SASLMechanism) + " on the Kafka connection."},
		}
		s.Security = []Ref{ref("components", "securitySchemes", "kafka-sasl")}
	}
	d.Servers = map[string]Server{"kafka": s}
	return nil
}

func addTopic(d *Document, desc *describer, s topology.TopicSpec, replicas int) error {
	if _, dup := d.Channels[s.Name]; dup {
		return fmt.Errorf("asyncapi: topic %q listed twice", s.Name)
	}
	about := desc.describe(s)
	schemaID := s.Name + "-value"
	payload, err := payloadSchema(s)
	if err != nil {
		return err
	}
	d.Components.Schemas[schemaID] = payload

	msg := Message{
		Name:        about.messageName,
		Title:       about.messageTitle,
		Summary:     about.summary,
		Description: about.messageDescription,
		Headers:     about.headers,
		Payload:     ref("components", "schemas", schemaID),
		Bindings: MessageBindings{Kafka: KafkaMessage{
			Key:            Schema{Type: "string", Description: keyDescription(s.Key)},
			BindingVersion: kafkaBindingVersion,
		}},
		EventTypes: about.eventTypes,
	}
	if s.Avro {
		msg.ContentType = "application/vnd.confluent.avro"
		msg.Bindings.Kafka.SchemaIDLocation = "payload"
		msg.Bindings.Kafka.SchemaIDPayloadEncoding = "confluent"
		msg.Bindings.Kafka.SchemaLookupStrategy = "TopicNameStrategy"
	} else {
		msg.ContentType = about.contentType
	}
	d.Components.Messages[s.Name] = msg

	msgRef := ref("components", "messages", s.Name)
	d.Channels[s.Name] = Channel{
		Address:     s.Name,
		Title:       s.Name,
		Summary:     about.summary,
		Description: about.channelDescription,
		Messages:    map[string]Ref{about.messageName: msgRef},
		Tags:        about.tags,
		Bindings: ChannelBindings{Kafka: KafkaChannel{
			Topic:              s.Name,
			Partitions:         s.Partitions,
			Replicas:           replicas,
			TopicConfiguration: topicConfiguration(s.Configs),
			BindingVersion:     kafkaBindingVersion,
		}},
	}
	chanMsg := []Ref{ref("channels", s.Name, "messages", about.messageName)}
	for _, op := range about.operations {
		d.Operations[op.id] = Operation{
			Action:      op.action,
			Channel:     ref("channels", s.Name),
			Summary:     op.summary,
			Messages:    chanMsg,
			Description: op.description,
		}
	}
	return nil
}

// payloadSchema is the topic's value schema: the Avro schema for Avro
// topics, a JSON or bytes schema for the others.
func payloadSchema(s topology.TopicSpec) (json.RawMessage, error) {
	if !s.Avro {
		return json.Marshal(rawPayload(s))
	}
	text, err := schemas.ValueSchema(s.Logical)
	if err != nil {
		return nil, fmt.Errorf("asyncapi: topic %s: %w", s.Name, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(text)); err != nil {
		return nil, fmt.Errorf("asyncapi: topic %s: Avro schema is not JSON: %w", s.Name, err)
	}
	return json.Marshal(MultiFormatSchema{SchemaFormat: AvroFormat, Schema: compact.Bytes()})
}

func keyDescription(key string) string {
	if key == "" {
		return "The record key."
	}
	if strings.HasPrefix(key, "i_") {
		return key + ", as a UTF-8 decimal string (Kafka's default murmur2 partitioning)."
	}
	if strings.ContainsRune(key, ' ') {
		return "The " + key + ", as a UTF-8 string."
	}
	return key + ", as a UTF-8 string (Kafka's default murmur2 partitioning)."
}

// topicConfiguration types the managed configs as the Kafka binding's
// schema expects: cleanup.policy a list, numbers as integers.
func topicConfiguration(configs map[string]string) map[string]any {
	if len(configs) == 0 {
		return nil
	}
	out := make(map[string]any, len(configs))
	for k, v := range configs {
		switch {
		case k == "cleanup.policy":
			out[k] = strings.Split(v, ",")
		case isInteger(v):
			out[k] = json.Number(v)
		default:
			out[k] = v
		}
	}
	return out
}

func isInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
