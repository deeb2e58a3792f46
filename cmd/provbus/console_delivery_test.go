package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/console"
	"github.com/provbus/provbus/internal/embedded/embeddedtest"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// TestConsoleDeliveryIsTheCLI: the console's Delivery and `provbus deliver`
// act on the same state: a pause from the console is what the CLI's
// status reads, a resume from the CLI is what the console shows; a handler
// without a url is ErrNotDelivered; the connector is shown without its
// credentials; attempts come from provbus.deliveries under the handler's
// slug.
func TestConsoleDeliveryIsTheCLI(t *testing.T) {
	ctx := context.Background()
	ec := embeddedtest.Start(t, 0)
	ec.Create(t, 2, topology.HandlerTopic("Huawei::PCRF"), topology.TopicDeliveries, topology.TopicDeliverState,
		topology.TopicDeliverFailed, topology.TopicDeliverControl)
	ec.Use(t, topology.TopicDeliveries)
	cfg := filepath.Join(t.TempDir(), "provbus.yaml")
	if err := os.WriteFile(cfg, []byte("deliver:\n  handlers:\n    \"Huawei::PCRF\":\n      url: https://pcrf.example.net/hook?key=s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := &globals{brokers: ec.Brokers()[0], registry: ec.RegistryURL(), configPath: cfg}
	e, err := g.load()
	if err != nil {
		t.Fatal(err)
	}
	d, err := newConsoleDelivery(e)
	if err != nil || d == nil {
		t.Fatalf("newConsoleDelivery = %v, %v", d, err)
	}
	cliPaused := func() bool { // what `provbus deliver status` prints comes from this call
		a, err := e.deliverAdmin("test")
		if err != nil {
			t.Fatal(err)
		}
		st, err := a.Status(ctx, []string{"Huawei::PCRF"}, time.Now().Add(-deliverStatusWindow))
		if err != nil || len(st) != 1 {
			t.Fatalf("deliver status: %v, %v", st, err)
		}
		return st[0].Paused
	}

	st, err := d.Status(ctx, "huawei-pcrf")
	if err != nil || st.Paused || st.Connector != "https://pcrf.example.net/hook" {
		t.Fatalf("Status = %+v, %v; want delivering, to the url without credentials", st, err)
	}
	if _, err := d.Status(ctx, "aricenthss"); !errors.Is(err, console.ErrNotDelivered) {
		t.Errorf("a handler without a url: %v, want ErrNotDelivered", err)
	}
	if err := d.Pause(ctx, "aricenthss"); !errors.Is(err, console.ErrNotDelivered) {
		t.Errorf("pause of a handler without a url: %v, want ErrNotDelivered", err)
	}

	if err := d.Pause(ctx, "huawei-pcrf"); err != nil {
		t.Fatal(err)
	}
	if !cliPaused() {
		t.Fatal("paused from the console, the CLI's status says delivering")
	}
	if st, err := d.Status(ctx, "huawei-pcrf"); err != nil || !st.Paused {
		t.Fatalf("after Pause, Status = %+v, %v", st, err)
	}
	base := []string{"--brokers", ec.Brokers()[0], "--registry", ec.RegistryURL(), "--config", cfg}
	if code := run(ctx, append(base, "deliver", "resume", "Huawei::PCRF")); code != 0 {
		t.Fatalf("provbus deliver resume: exit %d", code)
	}
	if cliPaused() {
		t.Fatal("resumed by the CLI, its status says paused")
	}
	d.acted() // the console's own actions drop its 2 s status cache
	if st, err := d.Status(ctx, "huawei-pcrf"); err != nil || st.Paused {
		t.Fatalf("resumed by the CLI, the console shows %+v, %v", st, err)
	}

	if n, err := d.Redrive(ctx, "huawei-pcrf"); err != nil || n != 0 {
		t.Errorf("Redrive with nothing failed = %d, %v", n, err)
	}
	if err := d.Skip(ctx, "huawei-pcrf", "11"); !errors.Is(err, console.ErrNothingToSkip) {
		t.Errorf("Skip of a key with nothing waiting = %v, want console.ErrNothingToSkip", err)
	}

	// Two attempts of one event, as the deliverer records them.
	var parts []int32
	for i, code := range []int32{503, 202} {
		v, err := ec.Codec.Encode(nil, topology.TopicDeliveries, &schemas.Delivery{Handler: "Huawei::PCRF", EventID: "e-1", EventType: "Account/New",
			Key: "11", Attempt: int32(i + 1), StatusCode: code, Outcome: map[int32]string{503: schemas.DeliveryRetry, 202: schemas.DeliveryDelivered}[code], At: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		r := &kgo.Record{Topic: topology.TopicDeliveries, Key: []byte("11"), Value: v}
		if err := ec.Client.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, r.Partition)
	}
	if parts[0] != parts[1] {
		t.Fatalf("one key on two partitions: %v", parts)
	}
	atts, err := d.Attempts(ctx, "11", parts[0], time.Time{})
	if err != nil || len(atts) != 2 || atts[0].Handler != "huawei-pcrf" || atts[0].EventID != "e-1" || atts[0].Status != 503 || atts[1].Outcome != schemas.DeliveryDelivered {
		t.Fatalf("Attempts = %+v, %v", atts, err)
	}
}
