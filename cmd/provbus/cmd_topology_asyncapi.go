package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/provbus/provbus/topology/asyncapi"
)

// runTopologyAsyncAPI writes the AsyncAPI 3.0 document of the topic layout:
// every topic with its Avro schema, key, Kafka configuration and catalog
// descriptions. It needs no cluster: everything comes from the catalog and
// the configuration.
func runTopologyAsyncAPI(_ context.Context, g *globals, args []string) error {
	fs := flag.NewFlagSet("topology asyncapi", flag.ContinueOnError)
	out := fs.String("out", "", "write the document to this file instead of standard output")
	version := fs.String("api-version", "1.0.0", "info.version of the document")
	if err := parseFlagsArgs(fs, "", args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: provbus topology asyncapi [--out FILE] [--api-version V]", errUsage)
	}
	e, err := g.load()
	if err != nil {
		return err
	}
	defer e.log.Sync() //nolint:errcheck // best effort at exit
	doc, err := asyncapi.Build(e.catalog, e.layout(), asyncapi.Options{
		APIVersion:        *version,
		Brokers:           e.cfg.Kafka.Brokers,
		RegistryURL:       e.cfg.Registry.URL,
		TLS:               e.cfg.Kafka.TLS.Enabled,
		SASLMechanism:     e.cfg.Kafka.SASL.Mechanism,
		ReplicationFactor: e.cfg.Topics.ReplicationFactor,
	})
	if err != nil {
		return err
	}
	raw, err := doc.JSON()
	if err != nil {
		return err
	}
	if *out != "" {
		if err := os.WriteFile(*out, raw, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", *out, err)
		}
		return nil
	}
	_, err = os.Stdout.Write(raw)
	return err
}
