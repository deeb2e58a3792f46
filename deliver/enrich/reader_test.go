package enrich

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/provbus/provbus/internal/embedded/embeddedtest"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/topology"
)

const accounts = 60

// fill writes, for accounts 1..n, a directory row (in transactions, as
// the directory does, then one aborted transaction at the end) and an
// Account/New plus an inherited Account/Status/Suspend.
func fill(t *testing.T, c *embeddedtest.Cluster, n int) {
	ctx := context.Background()
	tx, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...), kgo.TransactionalID("directory-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	for _, commit := range []bool{true, false} {
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= n; i++ {
			v := fmt.Sprintf(`{"i_customer":%d,"i_product":%d}`, 1000+i, 2000+i)
			if !commit {
				v = `{"i_customer":999999}` // aborted: must never be seen
			}
			if err := tx.ProduceSync(ctx, &kgo.Record{Topic: topology.TopicDirectoryAccounts, Key: []byte(strconv.Itoa(i)), Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i := 1; i <= n; i++ {
		for _, ev := range []struct {
			topic string
			typ   string
			inh   bool
		}{{"portabilling.account", typeNew, false}, {topology.TopicAccountInherited, typeSuspend, true}} {
			rec, err := records.Event(c.Codec, ev.topic, strconv.Itoa(i), accountEvent(int64(i), ev.typ, t0, ev.inh))
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, rec)
		}
	}
	if err := c.Client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func startCluster(t *testing.T) *embeddedtest.Cluster {
	c := embeddedtest.Start(t, 3)
	c.Create(t, 3, Topics()...)
	c.Use(t, "portabilling.account", topology.TopicAccountInherited)
	return c
}

// slowFetches makes every fetch answer 300 ms late: a restore that ends on
// "nothing came for a while" ends before anything was read.
func slowFetches(c *embeddedtest.Cluster) {
	kf := c.Kafka()
	kf.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		kf.KeepControl()
		kf.SleepControl(func() { time.Sleep(300 * time.Millisecond) })
		return nil, nil, false
	})
}

// complete checks that t holds the state of every account fill wrote.
func complete(tb *Table, n int) error {
	for i := 1; i <= n; i++ {
		id := int64(i)
		s := tb.Of(accountEvent(id, typeNew, time.Now(), false), time.Now()).Account
		switch {
		case s == nil:
			return fmt.Errorf("account %d: no state", i)
		case s.ICustomer == nil || *s.ICustomer != int64(1000+i) || s.IProduct == nil || *s.IProduct != int64(2000+i):
			return fmt.Errorf("account %d: owner %v/%v", i, s.ICustomer, s.IProduct)
		case !s.Suspended || s.LastStatusEvent == nil || *s.LastStatusEvent != typeSuspend:
			return fmt.Errorf("account %d: not suspended: %+v", i, s)
		}
	}
	return nil
}

func startReader(t *testing.T, c *embeddedtest.Cluster, quiet time.Duration) *Table {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	tb, err := Start(ctx, Options{Kafka: []kgo.Opt{kgo.SeedBrokers(c.Brokers()...)}, Codec: c.Codec, RestoreTimeout: time.Minute, quiet: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// Start returns only once every partition was read to the end offsets it
// had at the call, however slow the fetches, skipping aborted data; then
// it keeps following the topics.
func TestStartReadsToTheEndDespiteSlowFetches(t *testing.T) {
	c := startCluster(t)
	fill(t, c, accounts)
	slowFetches(c)
	tb := startReader(t, c, 0)
	if err := complete(tb, accounts); err != nil {
		t.Fatal(err)
	}
	rec, err := records.Event(c.Codec, "portabilling.account", "1", accountEvent(1, typeBlocked, time.Now(), false))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Client.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !tb.Of(accountEvent(1, typeNew, time.Now(), false), time.Now()).Account.Blocked {
		if time.Now().After(deadline) {
			t.Fatal("the tail never applied Account/Blocked")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The twin: the same restore ending on a quiet period instead of the end
// offsets returns before the slow fetches answer, and complete catches it.
func TestStartTwinQuietPeriodMissesState(t *testing.T) {
	c := startCluster(t)
	fill(t, c, accounts)
	slowFetches(c)
	tb := startReader(t, c, 100*time.Millisecond)
	if err := complete(tb, accounts); err == nil {
		t.Fatal("a restore ending on a quiet period read everything: the checker proves nothing")
	} else {
		t.Logf("caught, as expected: %v", err)
	}
}
