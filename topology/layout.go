package topology

import (
	"maps"
	"sort"
	"strconv"
	"time"
)

// TopicRole says what a topic holds, which decides its retention and
// cleanup policy.
type TopicRole string

// Topic roles.
const (
	RoleDomain     TopicRole = "domain"     // facts as received: kept forever for replay
	RoleDerived    TopicRole = "derived"    // facts derived by processors: kept forever
	RoleHandler    TopicRole = "handler"    // per-handler delivery: finite retention
	RoleParking    TopicRole = "parking"    // a handler's events that kept failing: kept forever
	RoleQuarantine TopicRole = "quarantine" // unknown or unparseable input: kept forever
	RoleDLQ        TopicRole = "dlq"        // poison records: kept forever
	RoleState      TopicRole = "state"      // compacted changelogs and tables
	RoleHistory    TopicRole = "history"    // delivery attempts: kept DeliveriesRetention
)

// TopicSpec is one topic as topology apply creates it.
type TopicSpec struct {
	// Name is the physical topic name: Logical in the layout's namespace.
	Name string
	// Logical is the name the design and the catalog give the topic; it
	// decides the value schema.
	Logical    string
	Role       TopicRole
	Partitions int32
	// Configs are the topic configs provbus manages; others are left alone.
	Configs map[string]string
	// Key names what the record key holds, for docs and AsyncAPI.
	Key string
	// Avro is true when values are Confluent-wire-format Avro registered
	// under the subject "<Name>-value".
	Avro bool
}

// LayoutOptions are the cluster-dependent settings of Layout.
type LayoutOptions struct {
	// Namespace prefixes every topic name (config topics.prefix).
	Namespace         Namespace
	Partitions        int32
	ReplicationFactor int16
	MinInsyncReplicas int
	HandlerRetention  time.Duration
}

// StateTopic is a compacted topic a processor keeps its state in.
type StateTopic struct {
	Name string
	Key  string
	// Facts marks a topic whose records are input facts, like a domain
	// topic's: it gets brokerTime.
	Facts bool
}

// brokerTime is the config of topics whose records are facts (the domain
// topics and the directory snapshots): the broker stamps every record with
// its clock when it appends it, so record timestamps follow the log's
// order. The directory's watermarks and the dispatchers' waits compare
// these timestamps (processors/directory/watermark.go); with the
// producer's clock (CreateTime) a batch retried after later records were
// read would land under a watermark already passed. See docs/decisions.md.
var brokerTime = map[string]string{"message.timestamp.type": "LogAppendTime"}

// BrokerTime returns the configs brokerTime gives the fact topics, for a
// tool that makes a topic like a domain topic (the bench's bare baseline
// writes where the ingest writes, on equal terms).
func BrokerTime() map[string]string { return maps.Clone(brokerTime) }

// stateTopics are the processors' changelogs and the directory snapshot
// input, registered by the processor packages' owners here so that one
// place lists every topic.
var stateTopics = []StateTopic{
	{Name: TopicDirectorySnapshot, Key: "i_account", Facts: true},
	{Name: TopicDirectoryAccounts, Key: "i_account"},
	{Name: TopicCustomerMembers, Key: "<i_customer>/<i_account>, partitioned by i_customer"},
	{Name: TopicProductMembers, Key: "<i_product>/<i_account>, partitioned by i_product"},
	{Name: TopicRouteDedup, Key: "<input topic>/<partition>/<bucket>/<seq>"},
	{Name: TopicDeliverState, Key: "<handler slug>/<partition>/<offset>, in the handler record's partition"},
	{Name: TopicDeliverFailed, Key: "<handler slug>/<event_id>, in the handler record's partition"},
	{Name: TopicDeliverControl, Key: "<handler slug>/paused or <handler slug>/op/<id>"},
}

// State topics (compacted). Their names are contracts for operators: they
// appear in topology plans and hold the processors' restorable state.
const (
	// TopicDirectorySnapshot receives directory rows (account → customer,
	// product) from `provbus import directory`, keyed by i_account.
	TopicDirectorySnapshot = "provbus.directory.snapshot"
	// TopicDirectoryAccounts is the account table: account → customer,
	// product, closed.
	TopicDirectoryAccounts = "provbus.directory.accounts"
	// TopicCustomerMembers holds the accounts of each customer,
	// co-partitioned with portabilling.customer.
	TopicCustomerMembers = "provbus.directory.customer-members"
	// TopicProductMembers holds the accounts on each product,
	// co-partitioned with portabilling.product.
	TopicProductMembers = "provbus.directory.product-members"
	// TopicRouteDedup is the router's de-duplication changelog.
	TopicRouteDedup = "provbus.route.dedup-changelog"
)

// ParkingTopic is where the subscribe package parks a handler's events that
// keep failing.
func ParkingTopic(handlerName string) string { return HandlerTopic(handlerName) + ".parking" }

// Layout returns every topic provbus needs, sorted by name: domain and
// derived topics (retention forever), handler topics and their parking
// topics, quarantine, DLQ and the compacted state topics.
func (c *Catalog) Layout(o LayoutOptions) []TopicSpec {
	forever := map[string]string{"retention.ms": "-1", "cleanup.policy": "delete"}
	with := func(bases ...map[string]string) map[string]string {
		m := map[string]string{"min.insync.replicas": strconv.Itoa(o.MinInsyncReplicas)}
		for _, base := range bases {
			for k, v := range base {
				m[k] = v
			}
		}
		return m
	}
	var specs []TopicSpec
	add := func(name string, role TopicRole, key string, avro bool, configs ...map[string]string) {
		specs = append(specs, TopicSpec{Name: o.Namespace.Topic(name), Logical: name, Role: role, Partitions: o.Partitions, Configs: with(configs...), Key: key, Avro: avro})
	}
	for _, d := range c.domains {
		add(d.Topic, RoleDomain, d.Key, true, forever, brokerTime)
	}
	for _, d := range c.derived {
		add(d.Topic, RoleDerived, d.Key, true, forever)
	}
	handlerRetention := map[string]string{"retention.ms": strconv.FormatInt(o.HandlerRetention.Milliseconds(), 10), "cleanup.policy": "delete"}
	for _, h := range c.handlers {
		if h.Topic == "" {
			continue
		}
		add(h.Topic, RoleHandler, "entity id of the event's domain", true, handlerRetention)
		add(ParkingTopic(h.Name), RoleParking, "entity id of the event's domain", false, forever)
	}
	add(TopicQuarantine, RoleQuarantine, "source", true, forever)
	add(TopicDLQ, RoleDLQ, "the original record's key", false, forever)
	add(TopicDeliveries, RoleHistory, "the handler record's key", true, map[string]string{"retention.ms": strconv.FormatInt(DeliveriesRetention.Milliseconds(), 10), "cleanup.policy": "delete"})
	for _, s := range stateTopics {
		compact := map[string]string{"cleanup.policy": "compact"}
		if s.Facts {
			add(s.Name, RoleState, s.Key, false, compact, brokerTime)
			continue
		}
		add(s.Name, RoleState, s.Key, false, compact)
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].Name < specs[j].Name })
	return specs
}
