package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/provbus/provbus/internal/browsertest"
)

// TestConsoleDeliveryInBrowser is issue 15's "pause and resume a handler
// from the UI and see the CLI agree", against the real deliverer: provbus
// dev delivers Huawei::PCRF to a test HTTP target; an operator signed in
// to the console pauses it, `provbus deliver status` (the CLI, as a
// process) says paused, an event posted meanwhile is held, resume from the
// console, the CLI says delivering and the held event arrives. Pages are
// saved under .screenshots/TestConsoleDeliveryInBrowser/.
//
// Twins (run by hand, docs/console.md): the console's Pause made a no-op
// fails at the click (the page never says paused); the deliverer's pause
// gates switched off fail with "an event posted while paused reached the
// connector".
func TestConsoleDeliveryInBrowser(t *testing.T) {
	b := browsertest.Start(t) // skips first when chromium is absent
	const user, pass = "operator", "correct-horse-battery"
	target := &eventTarget{}
	srv := httptest.NewServer(target)
	defer srv.Close()
	cfg := filepath.Join(t.TempDir(), "provbus.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
console: {username: %s, password: %s}
deliver:
  handlers:
    "Huawei::PCRF":
      url: %s/events
`, user, pass, srv.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	d := newDevCluster(t)
	p := startProvbus(t, "--config", cfg, "dev", "--data-dir", d.dataDir, "--kafka", d.kafka, "--registry-addr", d.registry, "--http", d.http)
	base := "http://" + d.http
	p.waitHTTP(base+"/readyz", 60*time.Second)
	cliPaused := func() bool {
		t.Helper()
		out, err := exec.Command(provbusBinary(t), "--brokers", d.kafka, "--registry", "http://"+d.registry, "--config", cfg, "deliver", "status").CombinedOutput()
		if err != nil {
			t.Fatalf("provbus deliver status: %v\n%s", err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 6 && f[0] == "Huawei::PCRF" {
				return f[6] == "true" // HANDLER DELIVERED RETRYING QUEUED BLOCKED FAILED PAUSED ...
			}
		}
		t.Fatalf("provbus deliver status has no Huawei::PCRF row:\n%s", out)
		return false
	}

	postEvents(t, base, `{"event_type":"Account/Product/Changed","variables":{"i_event":"101","i_account":11}}`)
	waitFor(t, 45*time.Second, "the first event at the connector", func() bool { return target.has("101") })

	b.Header(browsertest.BasicAuth(user, pass))
	page := base + "/ui/handlers/huawei-pcrf"
	b.Open(page, "#delivery-state")
	if got := b.Text("#delivery-state"); !strings.Contains(got, "delivering") || !strings.Contains(got, srv.URL) {
		t.Fatalf("before pause the page says %q", got)
	}
	b.Shot("delivering")
	if cliPaused() {
		t.Fatal("before pause the CLI says paused")
	}

	b.Click(`form[action$="/pause"] button`, `form[action$="/resume"] button`)
	if got := b.Text("#delivery-state"); !strings.Contains(got, "paused") {
		t.Fatalf("after pause the page says %q", got)
	}
	b.Shot("paused")
	if !cliPaused() {
		t.Fatal("paused from the console, provbus deliver status says it is not")
	}
	// Once the deliverer follows the flag, it reads a new event and holds
	// it (pending) instead of sending it.
	waitFor(t, 10*time.Second, "the deliverer's paused gauge", func() bool { return metricIs(base, "provbus_deliver_paused", "PCRF", "1") })
	postEvents(t, base, `{"event_type":"Account/Product/Changed","variables":{"i_event":"102","i_account":11}}`)
	waitFor(t, 30*time.Second, "the held event pending in the deliverer", func() bool {
		if target.has("102") {
			t.Fatal("an event posted while paused reached the connector")
		}
		return metricIs(base, "provbus_deliver_pending", "PCRF", "1")
	})

	b.Open(page, "#delivery-state")
	if target.has("102") {
		t.Fatal("an event posted while paused reached the connector before resume")
	}
	b.Click(`form[action$="/resume"] button`, `form[action$="/pause"] button`)
	if got := b.Text("#delivery-state"); !strings.Contains(got, "delivering") {
		t.Fatalf("after resume the page says %q", got)
	}
	if cliPaused() {
		t.Fatal("resumed from the console, provbus deliver status says paused")
	}
	waitFor(t, 30*time.Second, "the held event at the connector after resume", func() bool { return target.has("102") })
	b.Open(page, "#delivery-state")
	b.Shot("resumed")
	// Account 11's timeline shows each huawei-pcrf record's attempt, as
	// provbus history does.
	b.Open(base+"/ui/entities?account=11", "#timeline")
	atts := browsertest.Eval[[]string](b, `[...document.querySelectorAll('#timeline tbody tr')].filter(tr => tr.innerText.includes('handler.huawei-pcrf')).map(tr => [...tr.querySelectorAll('.attempt')].map(a => a.innerText).join(' | '))`)
	if len(atts) != 2 || !strings.Contains(atts[0], "delivered HTTP 202") || !strings.Contains(atts[1], "delivered HTTP 202") {
		t.Errorf("the timeline's huawei-pcrf rows show attempts %q, want one delivered HTTP 202 each", atts)
	}
	b.Shot("entities-account-11-attempts")
	out, err := exec.Command(provbusBinary(t), "--brokers", d.kafka, "--registry", "http://"+d.registry, "--config", cfg, "history", "--account", "11").CombinedOutput()
	if err != nil {
		t.Fatalf("provbus history: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "handler.huawei-pcrf/"); !strings.Contains(string(out), "DELIVERY ATTEMPTS") || n != 2 {
		t.Errorf("provbus history lists %d huawei-pcrf attempts, want 2:\n%s", n, out)
	}
}

// eventTarget is a connector that accepts every event and remembers the
// source event ids it received.
type eventTarget struct {
	mu  sync.Mutex
	ids []string
}

func (e *eventTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Data struct {
			Variables struct {
				IEvent string `json:"i_event"`
			} `json:"variables"`
		} `json:"data"`
	}
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	e.mu.Lock()
	e.ids = append(e.ids, body.Data.Variables.IEvent)
	e.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (e *eventTarget) has(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, x := range e.ids {
		if x == id {
			return true
		}
	}
	return false
}

// metricIs reports whether /metrics has a sample of name whose labels
// contain label, with value.
func metricIs(base, name, label, value string) bool {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+"{") && strings.Contains(line, label) && strings.HasSuffix(line, " "+value) {
			return true
		}
	}
	return false
}
