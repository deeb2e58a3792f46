package test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/provbus/provbus/internal/embedded"
	"github.com/provbus/provbus/internal/records"
	"github.com/provbus/provbus/internal/stream"
	"github.com/provbus/provbus/processors/directory"
	"github.com/provbus/provbus/processors/dispatch"
	"github.com/provbus/provbus/schemas"
	"github.com/provbus/provbus/topology"
)

// procTopics are the topics the directory and the dispatchers touch,
// created with the configs the topology layout gives them.
var procTopics = []string{
	directory.TopicAccounts, dispatch.TopicCustomer, dispatch.TopicProduct,
	dispatch.TopicInherited, schemas.DLQTopic,
	directory.TopicSnapshot, directory.TopicAccountTable,
	directory.TopicCustomerTable, directory.TopicProductTable,
}

// pcluster is an embedded broker and registry with the processors' topics.
type pcluster struct {
	t       testing.TB
	emb     *embedded.Cluster
	brokers string
	codec   *schemas.Codec
	reg     *sr.Client
	cl      *kgo.Client
	cat     *topology.Catalog
}

func startPCluster(t testing.TB, partitions int32) *pcluster {
	t.Helper()
	return startPClusterTimes(t, partitions, true)
}

// startPClusterTimes is startPCluster with the topics' configs from the
// topology layout; brokerTime false drops message.timestamp.type, so fact
// topics keep the producer's clock (for the broker-time twin).
func startPClusterTimes(t testing.TB, partitions int32, brokerTime bool) *pcluster {
	t.Helper()
	ctx := context.Background()
	cat, err := topology.Default()
	if err != nil {
		t.Fatal(err)
	}
	layout := map[string]map[string]string{}
	for _, s := range cat.Layout(topology.LayoutOptions{Partitions: partitions, ReplicationFactor: 1, MinInsyncReplicas: 1, HandlerRetention: time.Hour}) {
		layout[s.Name] = s.Configs
	}
	emb, err := embedded.Start(ctx, embedded.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0",
		Broker: true, Registry: true, Partitions: int(partitions)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	c := &pcluster{t: t, emb: emb, brokers: strings.Join(emb.Brokers(), ",")}
	c.cl, err = kgo.NewClient(kgo.SeedBrokers(emb.Brokers()...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.cl.Close)
	adm := kadm.NewClient(c.cl)
	for _, topic := range procTopics {
		cfg := map[string]*string{}
		for k, v := range layout[topic] {
			if k != "message.timestamp.type" || brokerTime {
				cfg[k] = &v
			}
		}
		if _, err := adm.CreateTopic(ctx, partitions, 1, cfg, topic); err != nil {
			t.Fatalf("create %s: %v", topic, err)
		}
	}
	c.reg, err = sr.NewClient(sr.URLs(emb.RegistryURL()))
	if err != nil {
		t.Fatal(err)
	}
	c.codec = schemas.NewCodec(c.reg)
	if err := records.Use(ctx, c.codec, directory.TopicAccounts, dispatch.TopicCustomer, dispatch.TopicProduct, dispatch.TopicInherited); err != nil {
		t.Fatal(err)
	}
	c.cat = cat
	return c
}

func id(v int64) *int64 { return &v }

func accountNew(account, customer, product int64) *schemas.Event {
	return &schemas.Event{EventID: fmt.Sprintf("acc-new-%d", account), Source: "portabilling", EventType: "Account/New",
		Origin: schemas.OriginDirect, IAccount: id(account), ICustomer: id(customer), IProduct: id(product),
		OccurredAt: time.Now(), ReceivedAt: time.Now(), Payload: "{}", Attributes: map[string]string{}}
}

func customerEvent(eventID, typ string, customer int64) *schemas.Event {
	return &schemas.Event{EventID: eventID, Source: "portabilling", EventType: typ, Origin: schemas.OriginDirect,
		ICustomer: id(customer), OccurredAt: time.Now(), ReceivedAt: time.Now(), Payload: "{}", Attributes: map[string]string{}}
}

func productEvent(eventID, typ string, product int64) *schemas.Event {
	return &schemas.Event{EventID: eventID, Source: "portabilling", EventType: typ, Origin: schemas.OriginDirect,
		IProduct: id(product), OccurredAt: time.Now(), ReceivedAt: time.Now(), Payload: "{}", Attributes: map[string]string{}}
}

// send produces events to topic keyed by keyField, synchronously and in
// order.
func (c *pcluster) send(topic, keyField string, evs ...*schemas.Event) {
	c.t.Helper()
	rs := make([]*kgo.Record, 0, len(evs))
	for _, ev := range evs {
		key, _ := ev.Key(keyField)
		r, err := records.Event(c.codec, topic, key, ev)
		if err != nil {
			c.t.Fatal(err)
		}
		rs = append(rs, r)
	}
	if err := c.cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		c.t.Fatal(err)
	}
}

// runInProcess runs the directory and the dispatchers in this process
// until the test ends or stop is called.
func (c *pcluster) runInProcess(t testing.TB, opts ...stream.Option) (stop func()) {
	t.Helper()
	log := zap.NewNop()
	if testing.Verbose() {
		log = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	}
	stops := []func(){
		c.runOne(t, directory.New(), log, opts...),
		c.runOne(t, dispatch.New(c.cat, log), log, opts...),
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}

// runOne runs processor p in this process until the test ends or stop is
// called.
func (c *pcluster) runOne(t testing.TB, p stream.Processor, log *zap.Logger, opts ...stream.Option) (stop func()) {
	t.Helper()
	o := append([]stream.Option{stream.WithKafka(kgo.SeedBrokers(c.emb.Brokers()...)), stream.WithCodec(c.codec),
		stream.WithLogger(log), stream.WithGroupTimeouts(3*time.Second, 10*time.Second)}, opts...)
	r, err := stream.New(p, o...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.Run(ctx); err != nil {
			t.Errorf("%s: %v", r.Group(), err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// readInherited reads portabilling.account.inherited under read_committed
// (see readOut).
func (c *pcluster) readInherited(want int, settle, timeout time.Duration) []outRec {
	c.t.Helper()
	got, err := readOut(c.emb.Brokers(), c.codec, []string{dispatch.TopicInherited}, want, settle, timeout)
	if err != nil {
		c.t.Fatal(err)
	}
	return got
}

// expectInherited adds to e the inherited events the dispatchers derive
// from the event parent (of type parentType) for accounts, each in the
// lane of its account and parent domain (a customer's and a product's
// events for one account come from different topics and may interleave).
func (c *pcluster) expectInherited(e *eoExpect, parent, parentType string, accounts ...int64) {
	c.t.Helper()
	rules := c.cat.InheritedFrom(parentType)
	if len(rules) == 0 {
		c.t.Fatalf("%s is inherited by nothing", parentType)
	}
	for _, rule := range rules {
		for _, a := range accounts {
			e.add(dispatch.TopicInherited, laneOf(dispatch.TopicInherited, itoa(a), schemas.OriginInherited+"@"+rule.Kind), dispatch.EventID(parent, a, rule.To))
		}
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// outputEnd returns the sum of the inherited topic's end offsets
// (uncommitted records included): it moves while a processor writes.
func (c *pcluster) outputEnd() int64 {
	c.t.Helper()
	ends, err := kadm.NewClient(c.cl).ListEndOffsets(context.Background(), dispatch.TopicInherited)
	if err != nil {
		c.t.Fatal(err)
	}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
	return sum
}
