package target

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
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

// TestSendWithoutClient: what http.Client did and Send now does itself:
// user info in the URL goes as Basic auth, the timeout bounds the answer,
// and a redirect is returned, not followed.
func TestSendWithoutClient(t *testing.T) {
	var mu sync.Mutex
	var auth string
	slow := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = r.Header.Get("Authorization")
		mu.Unlock()
		switch r.URL.Path {
		case "/slow":
			<-slow
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}
	}))
	defer srv.Close()
	defer close(slow)
	u := strings.Replace(srv.URL, "http://", "http://user:pa%20ss@", 1)
	if r := New(Config{URL: u, Timeout: time.Second}).Send(context.Background(), Request{EventID: "e", Body: []byte(`{}`)}); r.Status != 200 {
		t.Fatalf("response %+v", r)
	}
	mu.Lock()
	if want := "Basic " + base64.StdEncoding.EncodeToString([]byte("user:pa ss")); auth != want {
		t.Errorf("Authorization %q, want %q", auth, want)
	}
	r := New(Config{URL: srv.URL + "/slow", Timeout: 50 * time.Millisecond}).Send(context.Background(), Request{EventID: "e", Body: []byte(`{}`)})
	if r.Status != 0 || r.Class != retry.Retriable || !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Errorf("timeout: %+v", r)
	}
	mu.Unlock()
	if r := New(Config{URL: srv.URL + "/moved", Timeout: time.Second}).Send(context.Background(), Request{EventID: "e"}); r.Status != http.StatusFound {
		t.Errorf("redirect: %+v", r)
	}
	if r := New(Config{URL: "http://[::1", Timeout: time.Second}).Send(context.Background(), Request{EventID: "e"}); r.Err == nil || r.Class != retry.Retriable {
		t.Errorf("bad URL: %+v", r)
	}
}

// TestSenderReusesSafely: one Sender's requests, one after another, each
// carry their own id, attempt, body (built in the Sender's buffer) and
// signature; a request that overran
// the timeout, or found the target down, leaves the next one whole.
func TestSenderReusesSafely(t *testing.T) {
	key, _ := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	type got struct {
		id, attempt, body string
		signed            bool
	}
	var mu sync.Mutex
	var seen []got
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if string(body) == "slow" {
			time.Sleep(200 * time.Millisecond)
		}
		ts, _ := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64)
		ok := webhook.Verify(key, r.Header.Get(webhook.HeaderID), ts, body, r.Header.Get(webhook.HeaderSignature)) == nil
		mu.Lock()
		seen = append(seen, got{r.Header.Get(webhook.HeaderID), r.Header.Get(webhook.HeaderAttempt), string(body), ok})
		mu.Unlock()
		w.WriteHeader(204)
	}))
	defer srv.Close()
	tg := New(Config{URL: srv.URL, SigningKey: key, Timeout: 100 * time.Millisecond})
	s := tg.NewSender(context.Background())
	defer s.Close()
	send := func(id string, attempt int, body string) Response {
		return s.Send(Request{EventID: id, Attempt: attempt, Body: append(s.Buffer(), body...)})
	}
	if r := send("a", 1, `{"n":1}`); r.Status != 204 {
		t.Fatalf("first: %+v", r)
	}
	if r := send("b", 2, `{"n":22}`); r.Status != 204 {
		t.Fatalf("second: %+v", r)
	}
	if r := send("c", 3, "slow"); !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Fatalf("slow: %+v", r)
	}
	if r := send("d", 4, ""); r.Status != 204 {
		t.Fatalf("after the timeout: %+v", r)
	}
	time.Sleep(300 * time.Millisecond) // the slow one is answered and recorded
	mu.Lock()
	defer mu.Unlock()
	want := []got{{"a", "1", `{"n":1}`, true}, {"b", "2", `{"n":22}`, true}, {"d", "4", "", true}, {"c", "3", "slow", true}}
	if len(seen) != len(want) {
		t.Fatalf("seen %v", seen)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Errorf("request %d: %+v, want %+v", i, seen[i], want[i])
		}
	}
	srv.Close()
	if r := send("e", 5, "x"); r.Err == nil || r.Status != 0 {
		t.Fatalf("target down: %+v", r)
	}
}
