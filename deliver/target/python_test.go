package target

import (
	"bufio"
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/provbus/provbus/deliver/retry"
	"github.com/provbus/provbus/deliver/webhook"
	"github.com/provbus/provbus/schemas"
)

const pySecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// The Python example connector is an independent implementation of the
// Standard Webhooks check: provbus's requests must pass it, a request
// signed with another key must not, and its answers must mean to provbus
// what docs/deliver.md says.
func TestPythonConnectorVerifiesOurRequests(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	// The spec's vector, computed by the Python code.
	out, err := exec.Command(py, "../../examples/connector-python/connector.py", "--sign", pySecret,
		"msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", `{"test": 2432232314}`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("python signs the spec vector as %s", got)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(py, "../../examples/connector-python/connector.py", "--listen", addr)
	cmd.Env = append(cmd.Environ(), "PROVBUS_SIGNING_SECRET="+pySecret, "PROVBUS_BEARER_TOKEN=tok-123")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !bufio.NewScanner(stdout).Scan() { // "connector listening on …"
		t.Fatal("the connector did not start")
	}

	key, _ := webhook.ParseSecret(pySecret)
	good := New(Config{URL: "http://" + addr + "/events", BearerToken: "tok-123", SigningKey: key, Timeout: 5 * time.Second})
	body := func(id string, attrs map[string]string) []byte {
		acc := int64(7)
		ev := &schemas.Event{EventID: id, Source: "portabilling", EventType: "Account/Status/Changed", Origin: schemas.OriginDirect,
			IAccount: &acc, OccurredAt: time.Now(), ReceivedAt: time.Now(), Attributes: attrs, Payload: `{"a":1}`}
		b, err := webhook.AppendEventBody(nil, "IPTV", "7", ev, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ctx := context.Background()
	send := func(tg *Target, id string, attrs map[string]string) Response {
		return tg.Send(ctx, Request{EventID: id, Attempt: 1, Body: body(id, attrs)})
	}
	if r := send(good, "ev-1", nil); r.Status != 202 || r.Class != retry.Delivered {
		t.Fatalf("signed request: %d %s %v", r.Status, r.Excerpt, r.Err)
	}
	if r := send(good, "ev-1", nil); r.Status != 200 || !strings.Contains(r.Excerpt, "duplicate") {
		t.Fatalf("repeat of a webhook-id: %d %s", r.Status, r.Excerpt)
	}
	otherKey := append([]byte(nil), key...)
	otherKey[0] ^= 1
	forged := New(Config{URL: "http://" + addr + "/events", BearerToken: "tok-123", SigningKey: otherKey, Timeout: 5 * time.Second})
	if r := send(forged, "ev-2", nil); r.Status != 401 || r.Class != retry.Permanent {
		t.Fatalf("wrong signing key: %d %s", r.Status, r.Excerpt)
	}
	noToken := New(Config{URL: "http://" + addr + "/events", SigningKey: key, Timeout: 5 * time.Second})
	if r := send(noToken, "ev-3", nil); r.Status != 401 {
		t.Fatalf("no bearer token: %d %s", r.Status, r.Excerpt)
	}
	if r := send(good, "ev-4", map[string]string{"connector_test": "unavailable"}); r.Status != 503 || r.Class != retry.Retriable || r.RetryAfter != 30*time.Second {
		t.Fatalf("unavailable: %+v", r)
	}
	if r := send(good, "ev-5", map[string]string{"connector_test": "reject"}); r.Status != 422 || r.Class != retry.Permanent {
		t.Fatalf("rejected: %+v", r)
	}
}
