package eventlog

import (
	"fmt"
	"io"

	"github.com/hamba/avro/v2/ocf"

	"github.com/provbus/provbus/schemas"
)

// avroWriter writes an Avro object container file (zstd blocks) whose
// schema is the topic's value schema, as provbus registers it: any Avro
// reader (Spark, DuckDB's avro extension, fastavro) reads it, and the
// records are the events, not the Kafka coordinates.
type avroWriter struct {
	enc *ocf.Encoder
}

// AvroSchema is the schema of an Avro output over topics: the topic's own
// value schema for one topic; for several, the envelope with the ids of
// every source they carry (a topic's schema is named after the topic, so
// two topics never share one).
func AvroSchema(topics []string) (string, error) {
	if len(topics) == 1 {
		return schemas.ValueSchema(topics[0])
	}
	for _, t := range topics {
		if t == schemas.QuarantineTopic {
			return "", fmt.Errorf("%s holds quarantined records, not events: read it alone", t)
		}
	}
	return schemas.EventSchema("provbus.replay", "events of the topics "+fmt.Sprint(topics), TopicSources(topics)...)
}

func newAvro(w io.Writer, o WriterOptions) (*avroWriter, error) {
	schema, err := AvroSchema(o.Topics)
	if err != nil {
		return nil, err
	}
	enc, err := ocf.NewEncoder(schema, w, ocf.WithCodec(ocf.ZStandard))
	if err != nil {
		return nil, err
	}
	return &avroWriter{enc: enc}, nil
}

func (a *avroWriter) Write(e *Entry) error { return a.enc.Encode(e.Event) }

// Close writes the last block.
func (a *avroWriter) Close() error { return a.enc.Close() }
