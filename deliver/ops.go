package deliver

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/deliver/state"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// Admin is the operators' side of delivery: status, pause and resume,
// skip and unblock of a blocked key, and redrive of failed events. It
// writes requests to provbus.deliver.control; the instance owning the
// partition concerned carries them out.
type Admin struct {
	Kafka     []kgo.Opt
	Namespace topology.Namespace
	// Codec decodes events for redrive's entity filters and the
	// deliveries history of Status.
	Codec *schemas.Codec
	// By names the operator in the requests (user@host).
	By string
}

// ErrNotFound is returned by Skip and Unblock when the key has no waiting
// or blocked event.
var ErrNotFound = errors.New("no waiting event for this key")

// Status is one handler's delivery state.
type Status struct {
	Handler string
	// Delivered counts delivered attempts since Since (provbus.deliveries).
	Delivered int
	Since     time.Time
	// Retrying are events waiting for their next attempt (heads of
	// their key); Queued wait behind them; Blocked keys wait for an
	// operator.
	Retrying, Queued, Blocked int
	// Failed are events failed for good, kept for redrive.
	Failed int
	Paused bool
	// OldestPending is the first attempt of the oldest waiting event.
	OldestPending time.Time
	// Lag is the handler topic's records not yet read by the group.
	Lag int64
	// BlockedKeys are the first MaxBlockedKeys blocked keys, sorted, for
	// an operator to skip or unblock; LastError is the newest error of a
	// waiting event.
	BlockedKeys []string
	LastError   string
}

// MaxBlockedKeys bounds Status.BlockedKeys.
const MaxBlockedKeys = 50

func (a Admin) topic(logical string) string { return a.Namespace.Topic(logical) }

// produce writes one control record.
func (a Admin) produce(ctx context.Context, key string, c *state.Control) error {
	cl, err := kgo.NewClient(a.Kafka...)
	if err != nil {
		return err
	}
	defer cl.Close()
	c.At, c.By = time.Now().UTC(), a.By
	return cl.ProduceSync(ctx, &kgo.Record{Topic: a.topic(topology.TopicDeliverControl), Key: []byte(key), Value: c.Encode()}).FirstErr()
}

// SetPaused pauses (maintenance mode) or resumes a handler. Every instance
// follows the flag within about a second; attempts in flight finish.
func (a Admin) SetPaused(ctx context.Context, handler string, paused bool) error {
	return a.produce(ctx, state.PauseKey(handler), &state.Control{Paused: paused})
}

// rows reads the waiting rows of handler, by key in offset order.
func (a Admin) rows(ctx context.Context, handler string) (map[string][]*state.Row, error) {
	latest := map[string]*state.Row{}
	_, err := state.ReadToEnd(ctx, a.Kafka, a.topic(topology.TopicDeliverState), nil, func(r *kgo.Record) {
		k := string(r.Key)
		if !state.OfHandler(k, handler) {
			return
		}
		if r.Value == nil {
			delete(latest, k)
			return
		}
		if row, err := state.DecodeRow(r.Value); err == nil {
			latest[k] = row
		}
	})
	if err != nil {
		return nil, err
	}
	byKey := map[string][]*state.Row{}
	for _, row := range latest {
		byKey[row.Key] = append(byKey[row.Key], row)
	}
	for _, q := range byKey {
		sort.Slice(q, func(i, j int) bool { return q[i].Offset < q[j].Offset })
	}
	return byKey, nil
}

// Status reads the state, failed, control and deliveries topics and the
// group's lag. Its cost grows with the waiting and failed events and with
// the attempts since since.
func (a Admin) Status(ctx context.Context, handlers []string, since time.Time) ([]Status, error) {
	var out []Status
	paused := map[string]bool{}
	if _, err := state.ReadToEnd(ctx, a.Kafka, a.topic(topology.TopicDeliverControl), nil, func(r *kgo.Record) {
		for _, h := range handlers {
			if string(r.Key) == state.PauseKey(h) {
				c, err := state.DecodeControl(r.Value)
				paused[h] = err == nil && r.Value != nil && c.Paused
			}
		}
	}); err != nil {
		return nil, err
	}
	failed := map[string]map[string]bool{}
	if _, err := state.ReadToEnd(ctx, a.Kafka, a.topic(topology.TopicDeliverFailed), nil, func(r *kgo.Record) {
		for _, h := range handlers {
			if state.OfHandler(string(r.Key), h) {
				if failed[h] == nil {
					failed[h] = map[string]bool{}
				}
				if r.Value == nil {
					delete(failed[h], string(r.Key))
				} else {
					failed[h][string(r.Key)] = true
				}
			}
		}
	}); err != nil {
		return nil, err
	}
	delivered := map[string]int{}
	if _, err := state.ReadSince(ctx, a.Kafka, a.topic(topology.TopicDeliveries), nil, since, func(r *kgo.Record) {
		var d schemas.Delivery
		if _, err := a.Codec.Decode(ctx, r.Value, &d); err == nil && d.Outcome == schemas.DeliveryDelivered {
			delivered[d.Handler]++
		}
	}); err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(a.Kafka...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, h := range handlers {
		s := Status{Handler: h, Paused: paused[h], Failed: len(failed[h]), Delivered: delivered[h], Since: since}
		byKey, err := a.rows(ctx, h)
		if err != nil {
			return nil, err
		}
		var errAt time.Time
		for key, q := range byKey {
			head := q[0]
			switch {
			case head.Blocked:
				s.Blocked++
				s.BlockedKeys = append(s.BlockedKeys, key)
			default:
				s.Retrying++
			}
			s.Queued += len(q) - 1
			for _, r := range q {
				if !r.FirstAt.IsZero() && (s.OldestPending.IsZero() || r.FirstAt.Before(s.OldestPending)) {
					s.OldestPending = r.FirstAt
				}
			}
			// The head's NextAt was set by its latest attempt.
			if head.LastError != "" && (s.LastError == "" || head.NextAt.After(errAt)) {
				s.LastError, errAt = head.LastError, head.NextAt
			}
		}
		sort.Strings(s.BlockedKeys)
		if len(s.BlockedKeys) > MaxBlockedKeys {
			s.BlockedKeys = s.BlockedKeys[:MaxBlockedKeys]
		}
		group := string(a.Namespace) + topology.DeliverGroup(h)
		lags, err := adm.Lag(ctx, group)
		if err == nil {
			if gl, ok := lags[group]; ok {
				s.Lag = gl.Lag.TotalByTopic()[a.topic(topology.HandlerTopic(h))].Lag
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// Blocked returns the head of key's waiting events of handler.
func (a Admin) head(ctx context.Context, handler, key string) (*state.Row, error) {
	byKey, err := a.rows(ctx, handler)
	if err != nil {
		return nil, err
	}
	q := byKey[key]
	if len(q) == 0 {
		return nil, fmt.Errorf("%s key %s: %w", handler, key, ErrNotFound)
	}
	return q[0], nil
}

// Unblock lets key's blocked head be sent again.
func (a Admin) Unblock(ctx context.Context, handler, key string) (*state.Row, error) {
	return a.keyOp(ctx, handler, key, state.OpUnblock)
}

// Skip gives up key's waiting or blocked head (recorded failed, re-drivable)
// so the key moves on.
func (a Admin) Skip(ctx context.Context, handler, key string) (*state.Row, error) {
	return a.keyOp(ctx, handler, key, state.OpSkip)
}

func (a Admin) keyOp(ctx context.Context, handler, key, op string) (*state.Row, error) {
	h, err := a.head(ctx, handler, key)
	if err != nil {
		return nil, err
	}
	if op == state.OpUnblock && !h.Blocked {
		return h, fmt.Errorf("%s key %s: the head event %s is not blocked (attempt %d, next %s)", handler, key, h.EventID, h.Attempt, h.NextAt.Format(time.RFC3339))
	}
	id := op + "-" + h.EventID + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	return h, a.produce(ctx, state.OpKey(handler, id), &state.Control{Op: op, Key: key, Partition: h.Partition, EventID: h.EventID})
}

// RedriveFilter selects failed events to send again; zero fields match
// everything.
type RedriveFilter struct {
	// From and To bound when the event failed.
	From, To  time.Time
	Account   *int64
	Customer  *int64
	MSISDN    string
	EventType string
}

// Redrive sends matching failed events of handler again, with their
// original webhook-id; it returns how many it asked for.
func (a Admin) Redrive(ctx context.Context, handler string, f RedriveFilter) (int, error) {
	rows := map[string]*state.Row{}
	_, err := state.ReadToEnd(ctx, a.Kafka, a.topic(topology.TopicDeliverFailed), nil, func(r *kgo.Record) {
		k := string(r.Key)
		if !state.OfHandler(k, handler) {
			return
		}
		if r.Value == nil {
			delete(rows, k)
			return
		}
		if row, err := state.DecodeRow(r.Value); err == nil {
			rows[k] = row
		}
	})
	if err != nil {
		return 0, err
	}
	var match []*state.Row
	for _, row := range rows {
		ok, err := a.matches(ctx, row, f)
		if err != nil {
			return 0, err
		}
		if ok {
			match = append(match, row)
		}
	}
	sort.Slice(match, func(i, j int) bool {
		return match[i].Partition < match[j].Partition || match[i].Partition == match[j].Partition && match[i].Offset < match[j].Offset
	})
	for _, row := range match {
		id := state.OpRedrive + "-" + row.EventID + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		if err := a.produce(ctx, state.OpKey(handler, id), &state.Control{Op: state.OpRedrive, Row: row}); err != nil {
			return 0, err
		}
	}
	return len(match), nil
}

func (a Admin) matches(ctx context.Context, row *state.Row, f RedriveFilter) (bool, error) {
	if !f.From.IsZero() && row.FailedAt.Before(f.From) || !f.To.IsZero() && !row.FailedAt.Before(f.To) {
		return false, nil
	}
	if f.EventType != "" && row.EventType != f.EventType {
		return false, nil
	}
	if f.Account == nil && f.Customer == nil && f.MSISDN == "" {
		return true, nil
	}
	var ev schemas.Event
	if _, err := a.Codec.Decode(ctx, row.Value, &ev); err != nil {
		return false, nil // an undecodable event matches no entity filter
	}
	eq := func(p *int64, want *int64) bool { return want == nil || p != nil && *p == *want }
	return eq(ev.IAccount, f.Account) && eq(ev.ICustomer, f.Customer) && (f.MSISDN == "" || ev.MSISDN != nil && *ev.MSISDN == f.MSISDN), nil
}

// Attempts returns the recorded attempts of the handler records keyed by
// key (an entity id), oldest first, read from the partition of
// provbus.deliveries the key hashes to (partition picks it: the handler
// record's partition), from since on (zero: everything kept).
func (a Admin) Attempts(ctx context.Context, key string, partition int32, since time.Time) ([]schemas.Delivery, error) {
	var out []schemas.Delivery
	_, err := state.ReadSince(ctx, a.Kafka, a.topic(topology.TopicDeliveries), []int32{partition}, since, func(r *kgo.Record) {
		if string(r.Key) != key {
			return
		}
		var d schemas.Delivery
		if _, err := a.Codec.Decode(ctx, r.Value, &d); err == nil {
			out = append(out, d)
		}
	})
	return out, err
}
