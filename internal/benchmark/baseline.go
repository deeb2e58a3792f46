package benchmark

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/schemas"
)

// bareHandler is the ingest baseline: read the body, decode the JSON
// (object or array), build an event, Avro-encode it and produce it with an
// idempotent acks=all producer, answering 200 once every record is
// acknowledged. No auth, no catalog, no metrics, no validation.
type bareHandler struct {
	cl    *kgo.Client
	codec *schemas.Codec
	topic string
	seq   atomic.Int64
}

func newBareHandler(c *cluster, topic string) (*bareHandler, error) {
	cl, err := c.dial(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))
	if err != nil {
		return nil, err
	}
	return &bareHandler{cl: cl, codec: c.codec, topic: topic}, nil
}

func (h *bareHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var elems []map[string]json.RawMessage
	if b := bytes.TrimSpace(body); len(b) > 0 && b[0] == '[' {
		err = json.Unmarshal(b, &elems)
	} else {
		var one map[string]json.RawMessage
		err = json.Unmarshal(b, &one)
		elems = append(elems, one)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now().UTC()
	ctx := r.Context()
	errc := make(chan error, len(elems))
	for _, el := range elems {
		id := h.seq.Add(1)
		attrs := make(map[string]string, len(el))
		for k, v := range el {
			attrs[k] = string(v)
		}
		ev := schemas.Event{EventID: strconv.FormatInt(id, 10), Source: r.PathValue("source"), EventType: "bare",
			Origin: schemas.OriginDirect, OccurredAt: now, ReceivedAt: now, IAccount: &id, Attributes: attrs, Payload: string(body)}
		if len(elems) > 1 {
			ev.Payload = "" // the element's own text is in attrs
		}
		value, err := h.codec.Encode(nil, h.topic, &ev)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		h.cl.Produce(ctx, &kgo.Record{Topic: h.topic, Key: []byte(ev.EventID), Value: value},
			func(_ *kgo.Record, err error) { errc <- err })
	}
	for range elems {
		if err := <-errc; err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (h *bareHandler) close() { h.cl.Close() }

// bareStage is one hop of the processing baseline: a GroupTransactSession
// that decodes each record, emits fan re-encoded records to out (keyed by
// a synthetic account), and commits them with the input offsets, one
// transaction per poll — the runner's guarantee with none of its features.
func bareStage(ctx context.Context, c *cluster, group, in, out string, fan int) error {
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(c.brokers...),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(in),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.RequireStableFetchOffsets(),
		kgo.TransactionalID(group+"-"+strconv.FormatInt(time.Now().UnixNano(), 36)),
		kgo.TransactionTimeout(15*time.Second),
	)
	if err != nil {
		return err
	}
	defer sess.Close()
	var ev schemas.Event
	slab := make([]byte, 0, 256<<10)
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		fs := sess.PollRecords(pctx, 10_000)
		cancel()
		if fs.IsClientClosed() {
			return nil
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			return err
		}
		var perr atomic.Value
		promise := func(_ *kgo.Record, err error) {
			if err != nil {
				perr.Store(err)
			}
		}
		var failed error
		fs.EachRecord(func(r *kgo.Record) {
			if failed != nil {
				return
			}
			if _, err := c.codec.Decode(ctx, r.Value, &ev); err != nil {
				failed = err
				return
			}
			base := int64(0)
			if ev.IAccount != nil {
				base = *ev.IAccount
			}
			for i := 0; i < fan; i++ {
				acc := base*int64(fan) + int64(i)
				ev.IAccount = &acc
				if len(slab) > cap(slab)-4096 {
					slab = make([]byte, 0, 256<<10)
				}
				start := len(slab)
				slab, err = c.codec.Encode(slab, out, &ev)
				if err != nil {
					failed = err
					return
				}
				sess.Produce(ctx, &kgo.Record{Topic: out, Key: []byte(strconv.FormatInt(acc, 10)), Value: slab[start:len(slab):len(slab)]}, promise)
			}
		})
		if failed == nil {
			failed = sess.Client().Flush(ctx)
		}
		if v := perr.Load(); failed == nil && v != nil {
			failed = v.(error)
		}
		how := kgo.TryCommit
		if failed != nil {
			how = kgo.TryAbort
		}
		if _, err := sess.End(ctx, how); err != nil && ctx.Err() == nil {
			return err
		}
		if failed != nil && ctx.Err() == nil {
			return fmt.Errorf("bare stage %s: %w", group, failed)
		}
	}
	return nil
}

// runBare runs the two-stage baseline in → mid (×fan) → out until ctx
// ends; errors other than cancellation are sent to errc.
func runBare(ctx context.Context, c *cluster, in, mid, out string, fan int, errc chan<- error) {
	for _, st := range []struct {
		group, in, out string
		fan            int
	}{{"bare-1", in, mid, fan}, {"bare-2", mid, out, 1}} {
		go func() {
			if err := bareStage(ctx, c, st.group, st.in, st.out, st.fan); err != nil && !errors.Is(err, context.Canceled) {
				errc <- err
			}
		}()
	}
}
