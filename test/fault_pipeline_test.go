package test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/provbus/provbus/processors/dispatch"
	"github.com/provbus/provbus/processors/route"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// pipeline is the real thing in separate processes: `provbus dev
// --components broker,registry` (DataDir, topology applied) plus whatever
// ingest and process instances a test starts against it.
type pipeline struct {
	t        *testing.T
	cfgPath  string
	dev      devCluster
	devProc  *proc
	brokers  string
	registry string
	cat      *topology.Catalog
	router   *route.Router
	codec    *schemas.Codec
	cl       *kgo.Client
}

// pipeConfig is the YAML every process of the pipeline reads: few
// partitions keep the embedded broker's crash repair and the group
// rebalances quick on two cores.
const pipeConfig = `topics:
  partitions: %d
log:
  level: warn
%s`

func startPipeline(t *testing.T, partitions int, extraYAML string) *pipeline {
	t.Helper()
	p := &pipeline{t: t, dev: newDevCluster(t)}
	p.cfgPath = filepath.Join(t.TempDir(), "provbus.yaml")
	if err := os.WriteFile(p.cfgPath, []byte(fmt.Sprintf(pipeConfig, partitions, extraYAML)), 0o600); err != nil {
		t.Fatal(err)
	}
	p.brokers, p.registry = p.dev.kafka, "http://"+p.dev.registry
	p.startBroker()
	var err error
	if p.cat, err = topology.Default(); err != nil {
		t.Fatal(err)
	}
	p.router = route.New(p.cat)
	reg, err := sr.NewClient(sr.URLs(p.registry))
	if err != nil {
		t.Fatal(err)
	}
	p.codec = schemas.NewCodec(reg)
	if p.cl, err = kgo.NewClient(kgo.SeedBrokers(p.brokers)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.cl.Close)
	return p
}

// startBroker starts (or restarts, from the same DataDir) the broker and
// registry process.
func (p *pipeline) startBroker() {
	p.t.Helper()
	p.devProc = startProvbus(p.t, "--config", p.cfgPath, "dev", "--data-dir", p.dev.dataDir, "--kafka", p.dev.kafka,
		"--registry-addr", p.dev.registry, "--http", p.dev.http, "--components", "broker,registry")
	p.devProc.waitHTTP("http://"+p.dev.http+"/readyz", 90*time.Second)
}

// killBroker SIGKILLs the broker process.
func (p *pipeline) killBroker() {
	p.t.Helper()
	p.devProc.cmd.Process.Signal(syscall.SIGKILL)
	<-p.devProc.done
}

func (p *pipeline) global() []string {
	return []string{"--config", p.cfgPath, "--brokers", p.brokers, "--registry", p.registry}
}

// startIngest runs `provbus ingest` and returns it with its base URL.
func (p *pipeline) startIngest(args ...string) (*proc, string) {
	p.t.Helper()
	addr := freeAddr(p.t)
	ing := startProvbus(p.t, append(append(p.global(), "ingest", "--http", addr, "--metrics", "127.0.0.1:0"), args...)...)
	ing.waitHTTP("http://"+addr+"/readyz", 60*time.Second)
	return ing, "http://" + addr
}

// startProcess runs `provbus process` with short group and transaction
// timeouts, so a killed instance's partitions and open transaction move
// on within seconds.
func (p *pipeline) startProcess(args ...string) *proc {
	p.t.Helper()
	a := append(p.global(), "process", "--metrics", "127.0.0.1:0", "--transaction-timeout", "4s", "--session-timeout", "2s")
	return startProvbus(p.t, append(a, args...)...)
}

// post sends body to a source's webhook of the ingest at base.
func post(base, source, body string, hdr ...string) (int, http.Header, string, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/v1/sources/"+source+"/events", strings.NewReader(body))
	if err != nil {
		return 0, nil, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b), nil
}

// espf is one PortaBilling ESPF event body (variables as JSON members).
func espf(eventType, id string, vars string) string {
	return fmt.Sprintf(`{"event_type":%q,"variables":{"i_event":%q,%s}}`, eventType, id, vars)
}

// read reads topics under read_committed (see readOut).
func (p *pipeline) read(topics []string, want int, settle, timeout time.Duration) []outRec {
	p.t.Helper()
	got, err := readOut([]string{p.brokers}, p.codec, topics, want, settle, timeout)
	if err != nil {
		p.t.Fatal(err)
	}
	return got
}

// endSum is the sum of the end offsets of topics (open transactions
// included): it moves while anybody writes.
func (p *pipeline) endSum(topics ...string) int64 {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(p.cl).ListEndOffsets(ctx, topics...)
	if err != nil {
		p.t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// expectRouted adds to e what the route processor must write for ev (a
// direct event) and, when members is given, for the inherited events the
// dispatchers derive from it for those accounts.
func (p *pipeline) expectRouted(e *eoExpect, ev *schemas.Event, key string, members []int64) {
	p.t.Helper()
	hs, err := p.router.Targets(ev)
	if err != nil {
		p.t.Fatal(err)
	}
	// Order holds per key within one input topic: an account's
	// Account/New and a customer's events with the same numeric key come
	// from different domain topics and may interleave.
	d, _ := p.cat.DomainOf(ev.EventType)
	for _, h := range hs {
		e.add(h.Topic, laneOf(h.Topic, key, string(ev.Origin)+"@"+d.Topic), ev.EventID)
	}
	for _, rule := range p.cat.InheritedFrom(ev.EventType) {
		for _, a := range members {
			child := schemas.Event{EventID: dispatch.EventID(ev.EventID, a, rule.To), EventType: rule.To, Origin: schemas.OriginInherited}
			hs, err := p.router.Targets(&child)
			if err != nil {
				p.t.Fatal(err)
			}
			k := itoa(a)
			for _, h := range hs {
				e.add(h.Topic, laneOf(h.Topic, k, schemas.OriginInherited), child.EventID)
			}
		}
	}
}

// handlerTopics are the route processor's outputs.
func (p *pipeline) handlerTopics() []string { return route.Outputs(p.cat) }
