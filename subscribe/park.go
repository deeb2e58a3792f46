package subscribe

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/provbus/provbus/internal/records"
)

// ReasonHandlerFailed is the reason header of an event parked because the
// function kept failing; decode failures use the DLQ's reasons
// (not_wire_format, unknown_schema, undecodable).
const ReasonHandlerFailed = "handler_failed"

// HeaderAttempts is the parking header holding how many calls the event got.
const HeaderAttempts = "provbus.parking.attempts"

// park copies r to the parking topic with the DLQ's headers (reason, error,
// source topic, partition, offset, group, time), so the same tooling
// (`provbus dlq list|redrive --topic handler.<slug>.parking`) reads both.
// The produce is synchronous: r is committed only once its copy is durable.
func (s *subscriber) park(ctx context.Context, r *kgo.Record, reason string, cause error, attempts int) error {
	if cause == nil {
		cause = fmt.Errorf("%s", reason)
	}
	p := records.DLQ(r, s.cfg.Group, reason, cause, time.Now().UTC().Format(time.RFC3339Nano))
	p.Topic = s.parking
	p.Headers = append(p.Headers, kgo.RecordHeader{Key: HeaderAttempts, Value: []byte(strconv.Itoa(attempts))})
	s.log.Warn("parking event", zap.String("topic", s.parking), zap.Int32("partition", r.Partition),
		zap.Int64("offset", r.Offset), zap.String("reason", reason), zap.Error(cause))
	// Not ctx: a shutdown must not cut a park short after the function
	// already gave up on the event; the timeout bounds it instead.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if err := s.cl.ProduceSync(pctx, p).FirstErr(); err != nil {
		return fmt.Errorf("subscribe: park to %s: %w", s.parking, err)
	}
	return nil
}
