package kclient_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/provbus/provbus/internal/config"
	"github.com/provbus/provbus/internal/embedded/embeddedtest"
	"github.com/provbus/provbus/internal/kclient"
)

// Every value of kafka.compression reaches the wire: the batch a consumer
// reads carries the codec's attribute (Kafka's numbering: 0 none, 1 gzip,
// 2 snappy, 3 lz4, 4 zstd). Unset means the documented default, snappy.
func TestCompressionReachesTheWire(t *testing.T) {
	ec := embeddedtest.Start(t, 1)
	for name, want := range map[string]uint8{"": 2, "none": 0, "gzip": 1, "snappy": 2, "LZ4": 3, "zstd": 4} {
		t.Run("codec "+name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			topic := "compression-" + name
			ec.Create(t, 1, topic)
			opts, err := kclient.Opts(config.Kafka{Brokers: ec.Brokers(), Compression: name}, zaptest.NewLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			cl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(topic))...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			// Compressible, so no codec falls back to sending it raw.
			value := make([]byte, 4096)
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: value}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			fs := cl.PollRecords(ctx, 1)
			if err := fs.Err0(); err != nil {
				t.Fatal(err)
			}
			recs := fs.Records()
			if len(recs) != 1 {
				t.Fatalf("%d records", len(recs))
			}
			if got := recs[0].Attrs.CompressionType(); got != want {
				t.Fatalf("batch compression %d, want %d", got, want)
			}
		})
	}
}

func TestCompressionRefusesUnknownCodec(t *testing.T) {
	if _, err := kclient.Opts(config.Kafka{Brokers: []string{"127.0.0.1:9092"}, Compression: "brotli"}, nil); err == nil {
		t.Fatal("brotli accepted")
	}
}
