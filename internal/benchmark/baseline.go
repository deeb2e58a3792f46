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
	"golang.org/x/sync/errgroup"

	"github.com/provbus/provbus/schemas"
)

// bareHandler is the ingest baseline: read the body, decode the JSON
// (object or array), build an event, Avro-encode it and produce it with an
// idempotent acks=all producer, answering 200 with the events' ids (as
// the ingest does) once every record is acknowledged. No auth, no catalog,
// no metrics, no validation.
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
	ids := make([]string, 0, len(elems))
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
		ids = append(ids, ev.EventID)
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
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string][]string{"event_ids": ids})
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

// barePost is the delivery baseline: a plain consumer of topic that POSTs
// each record's event as JSON to url with its id in webhook-id, one
// goroutine per fetched partition so a partition's records go in order,
// and polls again once every POST of the fetch is answered. No retries, no
// state, no history, no signature.
func barePost(ctx context.Context, c *cluster, topic, url string) error {
	cl, err := c.dial(kgo.ConsumerGroup("bare-post"), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		if fs.IsClientClosed() || ctx.Err() != nil {
			return nil
		}
		var g errgroup.Group
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			g.Go(func() error {
				var ev schemas.Event
				for _, r := range p.Records {
					if _, err := c.codec.Decode(ctx, r.Value, &ev); err != nil {
						return err
					}
					if err := postEvent(ctx, hc, url, string(r.Key), &ev); err != nil {
						return err
					}
				}
				return nil
			})
		})
		if err := g.Wait(); err != nil && ctx.Err() == nil {
			return fmt.Errorf("bare post: %w", err)
		}
	}
	return nil
}

// bareBody is the JSON the delivery baseline sends: the event's fields
// under the names of the Avro record.
type bareBody struct {
	EventID       string            `json:"event_id"`
	EventType     string            `json:"event_type"`
	Origin        string            `json:"origin"`
	ParentEventID *string           `json:"parent_event_id"`
	Source        string            `json:"source"`
	ReceivedAt    time.Time         `json:"received_at"`
	Key           string            `json:"key"`
	Attributes    map[string]string `json:"attributes"`
	Payload       string            `json:"payload"`
}

func postEvent(ctx context.Context, hc *http.Client, url, key string, ev *schemas.Event) error {
	body, err := json.Marshal(bareBody{EventID: ev.EventID, EventType: ev.EventType, Origin: ev.Origin, ParentEventID: ev.ParentEventID,
		Source: ev.Source, ReceivedAt: ev.ReceivedAt, Key: key, Attributes: ev.Attributes, Payload: ev.Payload})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", ev.EventID)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}
