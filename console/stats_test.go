package console

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/provbus/provbus/internal/embedded/embeddedtest"
)

// TestLagIgnoresTransactionMarkers: a group that has read every record of
// a transactional topic shows no lag, though the commit marker leaves the
// end offset one past its position; a group one record behind shows 1 (the
// twin: the correction must not hide real lag).
func TestLagIgnoresTransactionMarkers(t *testing.T) {
	ctx := context.Background()
	ec := embeddedtest.Start(t, 1)
	const topic = "txn.topic"
	ec.Create(t, 1, topic)
	tx, err := kgo.NewClient(kgo.SeedBrokers(ec.Brokers()...), kgo.TransactionalID("console-lag-test"), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a", "b", "c"} {
		if err := tx.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	commit := func(group string, at int64) {
		t.Helper()
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: topic, Partition: 0, At: at, LeaderEpoch: -1})
		if _, err := ec.Admin.CommitOffsets(ctx, group, os); err != nil {
			t.Fatal(err)
		}
	}
	commit("caught-up", 3) // records at 0, 1, 2; the marker at 3
	commit("one-behind", 2)

	dial := func(opts ...kgo.Opt) (*kgo.Client, error) {
		return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(ec.Brokers()...)}, opts...)...)
	}
	s := newSampler(dial)
	defer s.close()
	snap, err := s.get(ctx, []string{topic})
	if err != nil {
		t.Fatal(err)
	}
	if end := snap.Topics[topic].End; end != 4 {
		t.Fatalf("end offset %d, want 4 (3 records and a commit marker)", end)
	}
	if lag := snap.Groups["caught-up"].Lag[topic]; lag != 0 {
		t.Errorf("caught-up group: lag %d, want 0", lag)
	}
	if lag := snap.Groups["one-behind"].Lag[topic]; lag != 1 {
		t.Errorf("one-behind group: lag %d, want 1", lag)
	}
}
