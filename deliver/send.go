package deliver

import (
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/provbus/provbus/deliver/order"
	"github.com/provbus/provbus/deliver/retry"
	"github.com/provbus/provbus/deliver/state"
	"github.com/provbus/provbus/deliver/target"
	"github.com/provbus/provbus/deliver/webhook"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// result is one attempt's answer, back on the loop.
type result struct {
	e       *order.Entry
	attempt int
	resp    target.Response
	// poison is a decode failure's reason: the record cannot be sent.
	poison    string
	eventID   string
	eventType string
}

// send builds e's request and posts it with s; it runs on a sender and
// reports on r.results. The body is written from the record's Avro value
// when webhook.AvroBody knows its writer schema, else from the event
// decoded into ev (the sender's, reused: Decode resets it).
func (r *handlerRun) send(s *target.Sender, ev *schemas.Event, e *order.Entry, attempt int) {
	res := result{e: e, attempt: attempt}
	if body, sum, ok := r.avroBody(s, e, attempt); ok {
		res.eventID, res.eventType = string(sum.EventID), string(sum.EventType)
		res.resp = s.Send(target.Request{EventID: res.eventID, Attempt: attempt, Body: body})
		r.report(res)
		return
	}
	if _, err := r.o.Codec.Decode(r.sendCtx, e.Value, ev); err != nil {
		if res.poison = schemas.PoisonReason(err); res.poison == "" {
			// The registry is unreachable: a retriable failure of ours,
			// scheduled like the target's.
			res.resp = target.Response{Class: retry.Retriable, Err: err}
		} else {
			res.resp = target.Response{Err: err}
		}
		r.report(res)
		return
	}
	res.eventID, res.eventType = ev.EventID, ev.EventType
	var state []byte
	if r.accounts != nil {
		state = r.accounts.JSON(ev, time.Now())
	}
	body, err := webhook.AppendEventBody(s.Buffer(), r.h.Name, e.Key, ev, attempt, state)
	if err != nil {
		res.poison, res.resp = "unencodable", target.Response{Err: err}
		r.report(res)
		return
	}
	res.resp = s.Send(target.Request{EventID: ev.EventID, Attempt: attempt, Body: body})
	r.report(res)
}

// avroBody writes e's body straight from its Avro value; false when its
// writer schema is not one webhook.AvroBody knows, or the value is not
// readable: the decoder then has its say (poison or not).
func (r *handlerRun) avroBody(s *target.Sender, e *order.Entry, attempt int) ([]byte, webhook.Summary, bool) {
	id, schema, v, err := r.o.Codec.WriterSchema(r.sendCtx, e.Value)
	if err != nil {
		return nil, webhook.Summary{}, false
	}
	ab, ok := r.bodies.Load(id)
	if !ok {
		ab, _ = r.bodies.LoadOrStore(id, webhook.NewAvroBody(schema)) // nil: not one it knows
	}
	if ab.(*webhook.AvroBody) == nil {
		return nil, webhook.Summary{}, false
	}
	body, sum, err := ab.(*webhook.AvroBody).Append(s.Buffer(), r.h.Name, e.Key, v, attempt, r.state)
	return body, sum, err == nil
}

// appendState appends the body's state for an event, as webhook.AvroBody
// asks for it (r.state, set when the handler's include_state is on).
func (r *handlerRun) appendState(dst []byte, sum webhook.Summary) []byte {
	return r.accounts.AppendAccountJSON(dst, sum.IAccount, sum.HasAccount, time.Now())
}

func (r *handlerRun) report(res result) {
	select {
	case r.results <- res: // the usual case: room in the buffer
		return
	default:
	}
	select {
	case r.results <- res:
	case <-r.sendCtx.Done():
	}
}

// finish applies an attempt's result: the outcome, the state writes it
// needs, its history record and metrics.
func (r *handlerRun) finish(res result) {
	e, now := res.e, time.Now()
	if res.eventID != "" {
		e.EventID, e.EventType = res.eventID, res.eventType
	}
	d := &r.delivery // the loop's own; history encodes it before the next result
	*d = schemas.Delivery{
		Handler: r.h.Name, EventID: e.EventID, EventType: e.EventType, Key: e.Key, Partition: e.Partition, Offset: e.Offset,
		Attempt: int32(res.attempt), StatusCode: int32(res.resp.Status), LatencyMS: res.resp.Latency.Milliseconds(),
		Response: res.resp.Excerpt, At: now,
	}
	if res.resp.Err != nil {
		d.Error = res.resp.Err.Error()
	}
	outcome, failReason := order.Done, ""
	var at time.Time
	switch {
	case res.poison != "":
		failReason = res.poison
	case res.resp.Class == retry.Delivered:
		d.Outcome = schemas.DeliveryDelivered
	case res.resp.Class == retry.Permanent && r.h.Block:
		outcome, d.Outcome = order.Block, schemas.DeliveryBlocked
	case res.resp.Class == retry.Permanent:
		failReason = "permanent failure"
	default:
		var ok bool
		if at, ok = r.h.Schedule.Next(res.attempt, e.FirstAt, now, res.resp.RetryAfter); ok {
			outcome, d.Outcome = order.Retry, schemas.DeliveryRetry
			d.NextAt = &at
		} else {
			failReason = "max age reached"
		}
	}
	if failReason != "" {
		d.Outcome = schemas.DeliveryFailed
		if d.Error == "" {
			d.Error = failReason
		}
	}
	if e == r.probe {
		r.probe = nil
	}
	if res.resp.Sent {
		wasOpen := r.brk.Open()
		r.brk.Record(res.resp.Answered(), now)
		if !wasOpen && r.brk.Open() {
			r.reclaim() // the target is down: what waits for a sender stays unsent
		}
	}
	e.LastError = d.Error
	if e.LastError == "" && d.StatusCode != 0 && outcome != order.Done {
		e.LastError = "HTTP " + itoa(int(d.StatusCode))
	}
	writes, tombstone := r.sched.Finish(e, outcome, at)
	if !e.Revoked() { // else the partition's new owner sends it again
		if failReason != "" {
			r.fail(e, failReason, res.poison)
		}
		r.writeState(writes, tombstone)
		r.history(d)
	}
	r.m.Attempt(d.Outcome, res.resp.Status)
	r.m.Latency.Observe(res.resp.Latency.Seconds())
	if d.Outcome != schemas.DeliveryDelivered {
		r.log.Debug("attempt", zap.String("event_id", e.EventID), zap.String("key", e.Key), zap.Int("attempt", res.attempt),
			zap.Int32("status", d.StatusCode), zap.String("outcome", d.Outcome), zap.String("error", d.Error))
	}
}

// fail records e in provbus.deliver.failed (queryable, re-drivable) and,
// for a record that cannot be decoded, copies it to the DLQ with the reason.
func (r *handlerRun) fail(e *order.Entry, reason, poison string) {
	row := state.Row{Handler: r.h.Name, Partition: e.Partition, Offset: e.Offset, Key: e.Key, EventID: e.EventID, EventType: e.EventType,
		Value: e.Value, Attempt: e.Attempt, FirstAt: e.FirstAt, LastError: e.LastError, FailedAt: time.Now().UTC(), Reason: reason}
	id := e.EventID
	if id == "" {
		id = "offset-" + itoa(int(e.Partition)) + "-" + itoa(int(e.Offset))
	}
	r.produce(&kgo.Record{Topic: r.failedTopic, Partition: e.Partition, Key: []byte(state.FailedKey(r.h.Name, id)), Value: row.Encode()}, nil)
	if poison != "" {
		src := &kgo.Record{Topic: r.topic, Partition: e.Partition, Offset: e.Offset, Key: []byte(e.Key), Value: e.Value}
		dlq := records.DLQ(src, r.group, poison, errors.New(e.LastError), time.Now().UTC().Format(time.RFC3339Nano))
		dlq.Topic = r.dlqTopic
		dlq.Partition = e.Partition
		r.produce(dlq, nil)
		r.o.Metrics.DLQ(poison, topology.HandlerTopic(r.h.Name)).Inc()
	}
}

// history writes one attempt to provbus.deliveries.
func (r *handlerRun) history(d *schemas.Delivery) {
	// Key and value in one allocation, sized for a record without a
	// response excerpt (the wire header, ids, times, a few numbers).
	buf := make([]byte, len(d.Key), len(d.Key)+160+len(d.Handler)+len(d.EventID)+len(d.EventType)+len(d.Key)+len(d.Response)+len(d.Error))
	copy(buf, d.Key)
	kv, err := r.o.Codec.Encode(buf, topology.TopicDeliveries, d)
	if err != nil {
		r.log.Error("encode delivery record", zap.Error(err))
		return
	}
	key := kv[:len(d.Key):len(d.Key)]
	r.produce(&kgo.Record{Topic: r.deliveriesTopic, Partition: d.Partition, Key: key, Value: kv[len(d.Key):]}, nil)
}
