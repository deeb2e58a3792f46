package target

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/provbus/provbus/deliver/retry"
	"github.com/provbus/provbus/deliver/webhook"
)

func TestSendHeadersAndOutcomes(t *testing.T) {
	key, _ := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	status := http.StatusAccepted
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64)
		if webhook.Verify(key, r.Header.Get(webhook.HeaderID), ts, body, r.Header.Get(webhook.HeaderSignature)) != nil {
			status = http.StatusUnauthorized
		}
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(status)
		w.Write(make([]byte, 5000))
	}))
	defer srv.Close()
	tg := New(Config{URL: srv.URL, BearerToken: "tok", SigningKey: key, Timeout: time.Second})
	r := tg.Send(context.Background(), Request{EventID: "e1", Attempt: 2, Body: []byte(`{}`)})
	if r.Status != 202 || r.Class != retry.Delivered || len(r.Excerpt) != ExcerptBytes {
		t.Fatalf("response %+v", r)
	}
	if got.Get("Authorization") != "Bearer tok" || got.Get(webhook.HeaderID) != "e1" || got.Get(webhook.HeaderAttempt) != "2" || got.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", got)
	}
	status = http.StatusTooManyRequests
	if r := tg.Send(context.Background(), Request{EventID: "e1", Body: []byte(`{}`)}); r.Class != retry.Retriable || r.RetryAfter != 7*time.Second {
		t.Fatalf("429: %+v", r)
	}
	srv.Close()
	if r := tg.Send(context.Background(), Request{EventID: "e1", Body: []byte(`{}`)}); r.Class != retry.Retriable || r.Status != 0 || r.Err == nil {
		t.Fatalf("connection refused: %+v", r)
	}
}

func TestBreakerOpensProbesAndCloses(t *testing.T) {
	b := &Breaker{Threshold: 3, Cooldown: time.Second, MaxCooldown: 4 * time.Second}
	now := time.Unix(0, 0)
	for range 3 {
		if ok, _ := b.Allow(now); !ok {
			t.Fatal("closed breaker refused")
		}
		b.Record(false, now)
	}
	if ok, until := b.Allow(now); ok || !until.Equal(now.Add(time.Second)) {
		t.Fatalf("open breaker allowed (until %v)", until)
	}
	now = now.Add(time.Second)
	if ok, _ := b.Allow(now); !ok {
		t.Fatal("no probe after the cool-down")
	}
	if ok, _ := b.Allow(now); ok {
		t.Fatal("a second request while probing")
	}
	b.Record(false, now)
	if ok, until := b.Allow(now.Add(1500 * time.Millisecond)); ok || !until.Equal(now.Add(2*time.Second)) {
		t.Fatalf("failed probe: cool-down not doubled (until %v)", until)
	}
	now = now.Add(2 * time.Second)
	b.Allow(now)
	b.Record(true, now)
	if ok, _ := b.Allow(now); !ok || b.Open() {
		t.Fatal("a good probe did not close the breaker")
	}
}
