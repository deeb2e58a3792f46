package console

import (
	"context"
	"strings"
	"testing"

	"github.com/provbus/provbus/internal/browsertest"
)

// TestBrowserPauseResume pauses and resumes a handler from the console in
// headless Chromium, as an operator does: the browser's own form POST,
// with its same-origin headers and the page's CSRF token, reaches the
// Delivery, and the page shows the new state. The Delivery here is the
// in-test one; test/TestConsoleDeliveryInBrowser does the same against the
// real deliverer and checks that `provbus deliver status` agrees.
func TestBrowserPauseResume(t *testing.T) {
	f := newFixture(t)
	b := browsertest.Start(t)
	b.Header(browsertest.BasicAuth(testUser, testPass))
	page := f.srv.URL + "/ui/handlers/huawei-pcrf"

	b.Open(page, "#delivery-state")
	if got := b.Text("#delivery-state"); !strings.Contains(got, "delivering") {
		t.Fatalf("before pause the page says %q", got)
	}
	b.Shot("handler-delivering")
	b.Click(`form[action$="/pause"] button`, `form[action$="/resume"] button`)
	if st, _ := f.del.Status(context.Background(), "huawei-pcrf"); !st.Paused {
		t.Fatal("clicking Pause did not pause the deliverer")
	}
	if got := b.Text("#delivery-state"); !strings.Contains(got, "paused") {
		t.Fatalf("after pause the page says %q", got)
	}
	b.Shot("handler-paused")
	b.Click(`form[action$="/resume"] button`, `form[action$="/pause"] button`)
	if st, _ := f.del.Status(context.Background(), "huawei-pcrf"); st.Paused {
		t.Fatal("clicking Resume did not resume the deliverer")
	}
	if got := b.Text("#delivery-state"); !strings.Contains(got, "delivering") {
		t.Fatalf("after resume the page says %q", got)
	}
	b.Open(f.srv.URL+"/ui/", `[data-node="deliver"]`)
	b.Shot("flow-with-delivery")
}

// TestBrowserReadsWithoutScript: with JavaScript off, the flow, a handler
// and a timeline still render their content (the script only refreshes
// numbers), and the first Tab reaches the skip link.
func TestBrowserReadsWithoutScript(t *testing.T) {
	f := newFixture(t)
	b := browsertest.Start(t)
	b.NoScript(true)
	b.Open(f.srv.URL+"/ui/", `[data-node="p:provbus-route"]`)
	b.Open(f.srv.URL+"/ui/entities?account=11", "#timeline")
	if rows := browsertest.Eval[int](b, `document.querySelectorAll("#timeline tbody tr").length`); rows < 3 {
		t.Fatalf("timeline without script: %d rows", rows)
	}
	b.Shot("entities-noscript")
	b.Keys("\t")
	if got := browsertest.Eval[string](b, `document.activeElement.className`); got != "skip" {
		t.Fatalf("the first Tab focuses %q, want the skip link", got)
	}
}
