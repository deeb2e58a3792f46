package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/provbus/provbus/internal/browsertest"
)

// TestConsoleInBrowser is issue 15's acceptance in headless Chromium: run
// `provbus dev`, post the README's events, and find in the console the
// flow, Huawei::PCRF's inherited subscription, and account 11's timeline
// with Account/New before the inherited Account/Status/Suspend linked to
// its customer event; the timeline lists what `provbus history` lists.
// Every page is saved under .screenshots/TestConsoleInBrowser/.
func TestConsoleInBrowser(t *testing.T) {
	b := browsertest.Start(t) // skips first when chromium is absent
	d := newDevCluster(t)
	p := startProvbus(t, "dev", "--data-dir", d.dataDir, "--kafka", d.kafka, "--registry-addr", d.registry, "--http", d.http)
	base := "http://" + d.http
	p.waitHTTP(base+"/readyz", 60*time.Second)

	postEvents(t, base,
		`[{"event_type":"Account/New","variables":{"i_event":"1","i_account":11,"i_customer":1}},
		  {"event_type":"Account/New","variables":{"i_event":"2","i_account":12,"i_customer":1}}]`,
		`{"event_type":"Customer/Status/Suspend","variables":{"i_event":"3","i_customer":1}}`,
		`{"event_type":"Account/Teleported","variables":{"i_event":"4","i_account":11}}`, // unknown: quarantined
	)
	// The pipeline is asynchronous: wait, with a deadline, until the
	// inherited suspension has reached AricentHSS for account 11.
	waitFor(t, 45*time.Second, "the inherited suspension of account 11 in handler.aricenthss", func() bool {
		resp, err := http.Get(base + "/ui/entities?account=11")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		page, _ := io.ReadAll(resp.Body)
		return bytes.Contains(page, []byte(`class="stage-inherited"`)) && bytes.Contains(page, []byte("<code>handler.aricenthss</code>"))
	})

	// The flow.
	b.Open(base+"/ui/", `[data-node="p:provbus-route"]`)
	for _, node := range []string{"s:portabilling", "t:portabilling.customer", "p:provbus-dispatch", "t:portabilling.account.inherited", "t:handler.aricenthss", "t:provbus.quarantine"} {
		if n := browsertest.Eval[int](b, fmt.Sprintf(`document.querySelectorAll('svg [data-node=%q]').length`, node)); n != 1 {
			t.Errorf("flow graph: node %s drawn %d times", node, n)
		}
	}
	if sub := b.Text(`svg [data-node="t:provbus.quarantine"] .sub`); !strings.HasPrefix(sub, "1 off") {
		t.Errorf("quarantine node says %q, want 1 offset", sub)
	}
	// Live refresh: a new customer event shows on the open page, without
	// a reload, within a few refreshes.
	postEvents(t, base, `{"event_type":"Customer/Status/Unsuspend","variables":{"i_event":"5","i_customer":2}}`)
	waitFor(t, 20*time.Second, "live refresh of portabilling.customer to 2 offsets", func() bool {
		return strings.HasPrefix(b.Text(`svg [data-node="t:portabilling.customer"] .sub`), "2 off")
	})
	if got := b.Text(`tr[data-node="t:portabilling.customer"] [data-f="offsets"]`); got != "2" {
		t.Errorf("the topics table was not refreshed with the graph: offsets %q, want 2", got)
	}
	b.Shot("flow")
	b.Open(base+"/ui/handlers", "table")
	b.Shot("handlers")

	// Huawei::PCRF receives Account/ServiceAttribute/Changed inherited too.
	b.Open(base+"/ui/handlers/huawei-pcrf", "#subscriptions")
	row := browsertest.Eval[string](b, `[...document.querySelectorAll('#subscriptions tbody tr')].map(tr => tr.innerText).find(s => s.includes('Account/ServiceAttribute/Changed')) || ''`)
	if !strings.Contains(row, "direct + inherited") {
		t.Errorf("Huawei::PCRF's Account/ServiceAttribute/Changed row: %q, want it marked inherited", row)
	}
	if got := b.Text("#delivery-state"); !strings.Contains(got, "not configured") {
		t.Errorf("delivery block without a deliverer: %q", got)
	}
	b.Shot("handler-huawei-pcrf")
	b.Open(base+"/ui/handlers/aricenthss", "#latest")
	b.Shot("handler-aricenthss")

	// Account 11: Account/New, then the inherited suspension linked to
	// the customer event it came from.
	b.Open(base+"/ui/entities?account=11", "#timeline")
	type trow struct {
		ID, Cls, Type string
		Links         []string
	}
	rows := browsertest.Eval[[]trow](b, `[...document.querySelectorAll('#timeline tbody tr')].map(tr => ({ID: tr.id, Cls: tr.className, Type: tr.querySelector('.etype').innerText, Links: [...tr.querySelectorAll('.lineage a')].map(a => a.getAttribute('href'))}))`)
	iNew, iInh := -1, -1
	for i, r := range rows {
		if r.Type == "Account/New" && iNew < 0 {
			iNew = i
		}
		if r.Type == "Account/Status/Suspend" && r.Cls == "stage-inherited" && iInh < 0 {
			iInh = i
		}
	}
	if iNew < 0 || iInh < 0 || iNew > iInh {
		t.Fatalf("timeline: Account/New at %d, inherited Account/Status/Suspend at %d; want both, in that order: %+v", iNew, iInh, rows)
	}
	inh := rows[iInh]
	if len(inh.Links) != 1 || !strings.HasPrefix(inh.Links[0], "#") {
		t.Fatalf("the inherited event's lineage links: %v", inh.Links)
	}
	var parent *trow
	for i := range rows {
		if "#"+rows[i].ID == inh.Links[0] {
			parent = &rows[i]
		}
	}
	if parent == nil || parent.Type != "Customer/Status/Suspend" {
		t.Fatalf("the inherited event links %s, which is %+v, want the Customer/Status/Suspend row", inh.Links[0], parent)
	}
	b.Click("#"+inh.ID+" .lineage a", "tr:target")
	if loc := b.Location(); !strings.HasSuffix(loc, inh.Links[0]) {
		t.Errorf("following the lineage link lands on %s", loc)
	}
	b.Shot("entities-account-11")

	// The console's timeline is the CLI's history.
	out, err := exec.Command(provbusBinary(t), "--brokers", d.kafka, "--registry", "http://"+d.registry, "history", "--account", "11", "--format", "ndjson").Output()
	if err != nil {
		t.Fatalf("provbus history: %v", err)
	}
	var cli []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var rec struct {
			Topic     string `json:"topic"`
			Partition int32  `json:"partition"`
			Offset    int64  `json:"offset"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("history line %q: %v", sc.Text(), err)
		}
		cli = append(cli, fmt.Sprintf("r-%s-%d-%d", strings.ReplaceAll(rec.Topic, ".", "_"), rec.Partition, rec.Offset))
	}
	var ui []string
	for _, r := range rows {
		ui = append(ui, r.ID)
	}
	if strings.Join(cli, " ") != strings.Join(ui, " ") {
		t.Errorf("the console's timeline and provbus history differ:\nconsole %v\nhistory %v", ui, cli)
	}

	// The inherited record itself.
	b.Click("#"+inh.ID+" td:last-child a", "table.kv")
	env := b.Text("table.kv")
	for _, want := range []string{"parent_event_id\t3", "inherited_from\tCUSTOMER", "origin\tINHERITED"} {
		if !strings.Contains(env, want) {
			t.Errorf("event page envelope lacks %q:\n%s", want, env)
		}
	}
	b.Shot("event-inherited")

	b.Open(base+"/ui/catalog?q=PCRF", "#handlers")
	b.Shot("catalog-search")
	b.Open(base+"/ui/quarantine", "main h1")
	if !strings.Contains(b.Text("main"), "Account/Teleported") {
		t.Error("the quarantine page does not show the unknown event")
	}
	b.Shot("quarantine")
	b.Open(base+"/ui/dlq", "main h1")
	b.Shot("dlq")
}

// postEvents posts each body to the PortaBilling webhook and wants a 200.
func postEvents(t *testing.T, base string, bodies ...string) {
	t.Helper()
	for _, body := range bodies {
		resp, err := http.Post(base+"/v1/sources/portabilling/events", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST events: %d %s", resp.StatusCode, b)
		}
	}
}

// waitFor polls cond until it holds or within passes; what names the
// condition in the failure.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("no %s within %s", what, within)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestDevConsoleNotOnOpenAddress: provbus dev on a non-loopback address
// without console credentials still serves webhooks and health, but not
// /ui/, and says why (the console's own tests cover reading with
// credentials beyond loopback).
func TestDevConsoleNotOnOpenAddress(t *testing.T) {
	d := newDevCluster(t)
	port := d.http[strings.LastIndex(d.http, ":"):]
	p := startProvbus(t, "dev", "--data-dir", d.dataDir, "--kafka", d.kafka, "--registry-addr", d.registry,
		"--http", "0.0.0.0"+port, "--components", "broker,registry")
	p.waitHTTP("http://"+d.http+"/readyz", 60*time.Second)
	resp, err := http.Get("http://" + d.http + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /ui/ on an open address without credentials: %d, want 404", resp.StatusCode)
	}
	if !strings.Contains(p.out.String(), "console not served") {
		t.Fatal("dev does not say why the console is off")
	}

}
