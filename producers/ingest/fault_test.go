package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/provbus/provbus/schemas"
)

// TestBrokerKilledMidRequest lets a few produce requests through, then
// kills every later one (kfake closes the connection, as a crashed broker
// would) while concurrent senders keep posting. Every event that got a 2xx
// must be in Kafka, no 2xx may be missing from it, and each refusal is a
// prompt 503 with Retry-After.
func TestBrokerKilledMidRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t, WithProduceTimeout(time.Second), WithRetryAfter(7*time.Second))
	var produced atomic.Int32
	kf := h.cluster.Kafka()
	kf.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		kf.KeepControl()
		if produced.Add(1) <= 5 {
			return nil, nil, false // let the broker handle it
		}
		return nil, errors.New("broker killed"), true
	})

	var (
		mu       sync.Mutex
		accepted = map[string]bool{}
		refused  int
		wg       sync.WaitGroup
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 6 {
				// Arrays of three, so a request can fail half-written.
				var body []byte
				var ids []string
				body = append(body, '[')
				for j := range 3 {
					id := fmt.Sprintf("w%d-%d-%d", w, i, j)
					ids = append(ids, id)
					if j > 0 {
						body = append(body, ',')
					}
					body = fmt.Appendf(body, `{"event_type":"Account/New","variables":{"i_event":%q,"i_account":%d}}`, id, w*100+i*10+j)
				}
				body = append(body, ']')
				start := time.Now()
				resp, b := h.post("portabilling", string(body), false)
				mu.Lock()
				switch resp.StatusCode {
				case http.StatusOK:
					var acc Accepted
					if err := json.Unmarshal(b, &acc); err != nil || len(acc.EventIDs) != 3 {
						t.Errorf("200 body %s", b)
					}
					for _, id := range ids {
						accepted[id] = true
					}
				case http.StatusServiceUnavailable:
					refused++
					if ra := resp.Header.Get("Retry-After"); ra != "7" {
						t.Errorf("Retry-After %q", ra)
					}
					if d := time.Since(start); d > 5*time.Second {
						t.Errorf("503 took %v", d)
					}
				default:
					t.Errorf("status %d: %s", resp.StatusCode, b)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if refused == 0 {
		t.Fatal("no request was refused: the fault never hit")
	}
	if len(accepted) == 0 {
		t.Log("no request got through before the fault (still a valid run)")
	}

	inKafka := map[string]bool{}
	for _, r := range h.records("portabilling.account") {
		var ev schemas.Event
		h.decode(r, &ev)
		inKafka[ev.EventID] = true
	}
	for id := range accepted {
		if !inKafka[id] {
			t.Errorf("event %s got a 200 but is not in Kafka", id)
		}
	}
	t.Logf("%d events acknowledged, %d in Kafka, %d requests refused", len(accepted), len(inKafka), refused)
}

// TestBrokerDown closes the whole cluster: requests get a prompt 503 with
// Retry-After and a request id, the broker's error only in the log under
// that id, and readiness fails.
func TestBrokerDown(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.InfoLevel)
	h := newHarness(t, WithProduceTimeout(time.Second), WithLogger(zap.New(core)))
	h.cluster.Kafka().Close()
	start := time.Now()
	resp, b := h.post("transatel", `{"header":{"eventId":"1","eventType":"CONNECTIVITY-MANAGEMENT/SUBSCRIBER/ACTIVATED"},"body":{"msisdn":"1"}}`, false)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" {
		t.Fatalf("%d Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("503 took %v", d)
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil || body["error"] != "kafka unavailable" {
		t.Errorf("body %s", b)
	}
	id, _ := body["request_id"].(string)
	if id == "" || resp.Header.Get("X-Request-Id") != id || len(body) != 3 {
		t.Errorf("want exactly error, request_id and retry_after: %s (X-Request-Id %q)", b, resp.Header.Get("X-Request-Id"))
	}
	for _, leak := range append(h.cluster.Brokers(), "produce", "dial", "context") {
		if strings.Contains(string(b), leak) {
			t.Errorf("503 body shows %q: %s", leak, b)
		}
	}
	logged := logs.FilterField(zap.String("request_id", id)).All()
	if len(logged) != 1 || logged[0].ContextMap()["error"] == nil {
		t.Errorf("want the error logged once under request_id %s, got %v", id, logged)
	}
	r, err := h.http.Client().Get(h.http.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz %d", r.StatusCode)
	}
}
