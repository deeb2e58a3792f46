// Package kclient builds franz-go and Schema Registry clients from provbus
// configuration, so every component connects the same way: TLS, SASL and
// logging through kzap are decided here once.
package kclient

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/provbus/provbus/internal/config"
)

// Opts returns the connection options for cfg: seed brokers, client id,
// the produce compression codec, TLS, SASL and a kzap logger (warnings and up, so the client's chatter
// does not drown the pipeline's own logs; info too when log is at debug,
// for connections, group joins and rebalances — kgo's own debug level logs
// every request and is never enabled).
func Opts(cfg config.Kafka, log *zap.Logger) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}
	if cfg.ClientID != "" {
		opts = append(opts, kgo.ClientID(cfg.ClientID))
	}
	codec, err := Compression(cfg.Compression)
	if err != nil {
		return nil, err
	}
	opts = append(opts, kgo.ProducerBatchCompression(codec))
	if log != nil {
		level := kgo.LogLevelWarn
		if log.Core().Enabled(zapcore.DebugLevel) {
			level = kgo.LogLevelInfo
		}
		opts = append(opts, kgo.WithLogger(kzap.New(log.Named("kgo"), kzap.Level(level))))
	}
	if cfg.TLS.Enabled {
		tc, err := TLSConfig(cfg.TLS)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls: %w", err)
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	switch strings.ToUpper(cfg.SASL.Mechanism) {
	case "":
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: cfg.SASL.Username, Pass: cfg.SASL.Password}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: cfg.SASL.Username, Pass: cfg.SASL.Password}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: cfg.SASL.Username, Pass: cfg.SASL.Password}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("kafka.sasl.mechanism: unsupported %q", cfg.SASL.Mechanism)
	}
	return opts, nil
}

// Compression returns the codec named by kafka.compression ("" is
// config.DefaultCompression). Every provbus producer is built from Opts, so
// this one setting decides what all consumers must decode.
func Compression(name string) (kgo.CompressionCodec, error) {
	if name == "" {
		name = config.DefaultCompression
	}
	switch strings.ToLower(name) {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("kafka.compression: %q is not one of %s", name, strings.Join(config.Compressions, ", "))
}

// TLSConfig loads a TLS client configuration from files.
func TLSConfig(cfg config.TLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // operator's explicit choice
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no certificates", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file/key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Registry returns a Schema Registry client for cfg.
func Registry(cfg config.Registry) (*sr.Client, error) {
	opts := []sr.ClientOpt{sr.URLs(cfg.URL)}
	if cfg.Username != "" {
		opts = append(opts, sr.BasicAuth(cfg.Username, cfg.Password))
	}
	if cfg.TLS.Enabled {
		tc, err := TLSConfig(cfg.TLS)
		if err != nil {
			return nil, fmt.Errorf("registry.tls: %w", err)
		}
		opts = append(opts, sr.DialTLSConfig(tc))
	}
	c, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	return c, nil
}
