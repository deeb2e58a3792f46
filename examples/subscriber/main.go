// Command subscriber is an example provisioning microservice: it consumes
// the Huawei::PCRF handler topic with the subscribe package and "provisions"
// each event by logging it. Copy it as the start of a real service.
//
//	go run ./examples/subscriber --brokers 127.0.0.1:9092 --registry http://127.0.0.1:8081
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/provbus/provbus/subscribe"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "comma-separated Kafka seed brokers")
	registry := flag.String("registry", "http://127.0.0.1:8081", "Schema Registry URL")
	handler := flag.String("handler", "Huawei::PCRF", "handler whose topic to consume")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg := subscribe.Config{Brokers: strings.Split(*brokers, ","), RegistryURL: *registry}
	err := subscribe.Run(ctx, cfg, *handler, func(ctx context.Context, ev subscribe.Event) error {
		// A real service calls its target here, idempotently: the same
		// EventID may come again after a crash or a redrive.
		if ev.IAccount == nil {
			// Retrying cannot add an account id: park at once.
			return fmt.Errorf("event %s has no i_account: %w", ev.EventID, subscribe.ErrPermanent)
		}
		log.Printf("provision %s account=%d origin=%s event_id=%s (partition %d offset %d, attempt %d)",
			ev.EventType, *ev.IAccount, ev.Origin, ev.EventID, ev.Partition, ev.Offset, ev.Attempt)
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Fatal(err)
	}
}
