package subscribe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"

	"github.com/provbus/provbus/schemas"
)

// commitTimeout bounds the final offset commit on shutdown, which runs on a
// fresh context because the caller's is already cancelled.
const commitTimeout = 10 * time.Second

// Run consumes the topic of handler and calls fn for each event until ctx
// is cancelled (then it returns nil) or a failure it cannot work around
// (the parking topic cannot be written, the commit fails) happens.
func Run(ctx context.Context, cfg Config, handler string, fn Func) error {
	cfg = cfg.withDefaults(handler)
	if len(cfg.Brokers) == 0 || cfg.RegistryURL == "" {
		return errors.New("subscribe: Config.Brokers and Config.RegistryURL are required")
	}
	reg, err := sr.NewClient(append([]sr.ClientOpt{sr.URLs(cfg.RegistryURL)}, cfg.RegistryOpts...)...)
	if err != nil {
		return fmt.Errorf("subscribe: registry client: %w", err)
	}
	topic := cfg.TopicPrefix + Topic(handler)
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(topic),
		// Only what the router committed: an aborted transaction's records
		// were never routed.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		// A partition is not taken away while its batch is being handled,
		// so what was handled is committed before anyone else reads it.
		kgo.BlockRebalanceOnPoll(),
		kgo.RebalanceTimeout(cfg.rebalanceTimeout()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, cfg.KafkaOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("subscribe: kafka client: %w", err)
	}
	defer cl.Close()
	// With BlockRebalanceOnPoll, Close's leave-group waits for the poll
	// to be released: release it first (defers run last-in first-out).
	defer cl.AllowRebalance()
	s := &subscriber{cfg: cfg, handler: handler, parking: cfg.TopicPrefix + ParkingTopic(handler), cl: cl, codec: schemas.NewCodec(reg), fn: fn, log: cfg.Logger.With(zap.String("handler", handler))}
	return s.loop(ctx)
}

// rebalanceTimeout leaves room for one record's full retry sequence, since
// the rebalance waits for the batch being handled.
func (c Config) rebalanceTimeout() time.Duration {
	total := time.Minute
	for a := 1; a < c.MaxAttempts; a++ {
		total += c.backoff(a)
	}
	return total
}

type subscriber struct {
	cfg     Config
	handler string
	parking string
	cl      *kgo.Client
	codec   *schemas.Codec
	fn      Func
	log     *zap.Logger
}

func (s *subscriber) loop(ctx context.Context) error {
	for {
		fetches := s.cl.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(t string, p int32, err error) {
			s.log.Warn("fetch", zap.String("topic", t), zap.Int32("partition", p), zap.Error(err))
		})
		done, err := s.handleBatch(ctx, fetches)
		// Commit what was handled even when stopping: it is done and must
		// not be redone. A fresh context, since ctx may be cancelled.
		if len(done) > 0 {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
			cerr := s.cl.CommitRecords(cctx, done...)
			cancel()
			if cerr != nil {
				return fmt.Errorf("subscribe: commit: %w", cerr)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		s.cl.AllowRebalance()
	}
}

// handleBatch handles each partition of the poll on its own goroutine, in
// order within the partition, and returns the last record finished per
// partition. It stops a partition at its first record that was neither
// handled nor parked, so nothing after it is committed.
func (s *subscriber) handleBatch(ctx context.Context, fetches kgo.Fetches) ([]*kgo.Record, error) {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		done     []*kgo.Record
		firstErr error
	)
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last *kgo.Record
			var err error
			for _, r := range p.Records {
				if err = s.handle(ctx, r); err != nil {
					break
				}
				last = r
			}
			mu.Lock()
			defer mu.Unlock()
			if last != nil {
				done = append(done, last)
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}()
	})
	wg.Wait()
	return done, firstErr
}

// handle decodes r and calls fn until it succeeds, then parks it if it
// never did. A nil return means r is finished (handled or parked).
func (s *subscriber) handle(ctx context.Context, r *kgo.Record) error {
	ev := Event{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Timestamp: r.Timestamp}
	for attempt := 1; ; attempt++ {
		_, err := s.codec.Decode(ctx, r.Value, &ev.Event)
		if err == nil {
			break
		}
		if reason := schemas.PoisonReason(err); reason != "" {
			return s.park(ctx, r, reason, err, 0)
		}
		// The registry could not be reached: wait for it, however long,
		// since parking would only move the problem.
		s.log.Warn("decode: registry unreachable, retrying", zap.Error(err))
		if !sleep(ctx, s.cfg.backoff(attempt)) {
			return ctx.Err()
		}
	}
	var err error
	for ev.Attempt = 1; ev.Attempt <= s.cfg.MaxAttempts; ev.Attempt++ {
		if err = s.call(ctx, ev); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrPermanent) {
			break
		}
		s.log.Info("handler failed, will retry", zap.String("event_id", ev.EventID), zap.Int("attempt", ev.Attempt), zap.Error(err))
		if ev.Attempt < s.cfg.MaxAttempts && !sleep(ctx, s.cfg.backoff(ev.Attempt)) {
			return ctx.Err()
		}
	}
	return s.park(ctx, r, ReasonHandlerFailed, err, min(ev.Attempt, s.cfg.MaxAttempts))
}

// call runs fn, turning a panic into an error so one bad event cannot
// crash the service and stop every partition.
func (s *subscriber) call(ctx context.Context, ev Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return s.fn(ctx, ev)
}

// sleep waits d or until ctx is done, and reports whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
