package test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/provbus/provbus/internal/metrics"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/internal/stream"
	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/processors/dispatch"
	"github.com/provbus/provbus/schemas"
)

// A malformed membership changelog record gets one treatment whether the
// dispatcher meets it restoring or tailing: skipped, counted in
// provbus_dlq_records_total{reason="malformed_changelog"} and copied to
// provbus.dlq; dispatch goes on. (A restore used to fail on it, and the
// processor never started again: the compacted changelog keeps it.)
func TestMalformedMembershipRecord(t *testing.T) {
	t.Parallel()
	c := startPCluster(t, 4)
	raw, err := kgo.NewClient(kgo.SeedBrokers(c.emb.Brokers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	bad := func(key, value string, partition int32) *kgo.Record {
		r := &kgo.Record{Topic: directory.TopicCustomerTable, Key: []byte(key), Value: []byte(value), Partition: partition}
		if err := raw.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		return r
	}
	atRestore := bad("not-a-member-key", `{"closed":false}`, 1)
	m := metrics.New(nil)
	c.runOne(t, directory.New(), zap.NewNop())
	c.runOne(t, dispatch.New(c.cat, zap.NewNop()), zap.NewNop(), stream.WithMetrics(m))

	c.send(directory.TopicAccounts, "i_account", accountNew(71, 7, 1))
	c.send(dispatch.TopicCustomer, "i_customer", customerEvent("mal-1", "Customer/Status/Suspend", 7))
	if got := c.readInherited(1, 500*time.Millisecond, 30*time.Second); len(got) != 1 {
		t.Fatalf("after a malformed record in the restore: %d inherited events, want 1", len(got))
	}
	atTail := bad("wm/off/99", "0=not-an-offset", 2)
	c.send(directory.TopicAccounts, "i_account", accountNew(81, 8, 1))
	c.send(dispatch.TopicCustomer, "i_customer", customerEvent("mal-2", "Customer/Status/Suspend", 8))
	if got := c.readInherited(2, 500*time.Millisecond, 30*time.Second); len(got) != 2 {
		t.Fatalf("after a malformed record in the tail: %d inherited events, want 2", len(got))
	}

	var dlq []*kgo.Record
	for deadline := time.Now().Add(30 * time.Second); len(dlq) < 2 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		dlq = c.readTopics(schemas.DLQTopic)
	}
	var got []string
	for _, r := range dlq {
		reason, _ := records.Header(r, records.HeaderDLQReason)
		topic, _ := records.Header(r, records.HeaderDLQTopic)
		part, _ := records.Header(r, records.HeaderDLQPartition)
		got = append(got, reason+" "+topic+"/"+part+" "+string(r.Key))
	}
	slices.Sort(got)
	want := []string{
		stream.ReasonMalformedChangelog + " " + directory.TopicCustomerTable + "/" + strconv.Itoa(int(atRestore.Partition)) + " " + string(atRestore.Key),
		stream.ReasonMalformedChangelog + " " + directory.TopicCustomerTable + "/" + strconv.Itoa(int(atTail.Partition)) + " " + string(atTail.Key),
	}
	if !slices.Equal(got, want) {
		t.Errorf("DLQ holds %q, want %q", got, want)
	}
	if n := counterValue(m.DLQ(stream.ReasonMalformedChangelog, directory.TopicCustomerTable)); n != 2 {
		t.Errorf("provbus_dlq_records_total{reason=%q} = %v, want 2", stream.ReasonMalformedChangelog, n)
	}
}

func counterValue(c interface{ Write(*dto.Metric) error }) float64 {
	var v dto.Metric
	if err := c.Write(&v); err != nil {
		return 0
	}
	return v.GetCounter().GetValue()
}
