package embedded

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// pinned returns a client that sends key at most at version v (kgo sends
// the highest version both sides support, whatever the request says).
func pinned(t *testing.T, brokers []string, key, v int16) *kgo.Client {
	t.Helper()
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(key, v)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MaxVersions(vs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// offsetFetchNewGroup asks brokers for a never-seen group's offsets of
// topic's partitions at OffsetFetch v7 (one group) and v10 (groups array),
// and returns an error unless every partition answers offset -1 and no
// error, as Apache Kafka does.
func offsetFetchNewGroup(ctx context.Context, t *testing.T, brokers []string, topic string, partitions int32) error {
	cl7 := pinned(t, brokers, int16(kmsg.OffsetFetch), 7)
	cl := pinned(t, brokers, int16(kmsg.OffsetFetch), 10)
	var ps []int32
	for p := range partitions {
		ps = append(ps, p)
	}
	group := "never-seen-" + suffix()
	check := func(v int, code int16, topics []kmsg.OffsetFetchResponseGroupTopic) error {
		if code != 0 {
			return fmt.Errorf("v%d: group error %v", v, kerr.ErrorForCode(code))
		}
		n := 0
		for _, t := range topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 || p.Offset != -1 {
					return fmt.Errorf("v%d: %s/%d: offset %d error %v", v, t.Topic, p.Partition, p.Offset, kerr.ErrorForCode(p.ErrorCode))
				}
				n++
			}
		}
		if n != len(ps) {
			return fmt.Errorf("v%d: %d partitions answered, want %d", v, n, len(ps))
		}
		return nil
	}

	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 7
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, ps
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl7)
	if err != nil {
		return err
	}
	var topics []kmsg.OffsetFetchResponseGroupTopic
	for _, t := range resp.Topics {
		gt := kmsg.NewOffsetFetchResponseGroupTopic()
		gt.Topic = t.Topic
		for _, p := range t.Partitions {
			gp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			gp.Partition, gp.Offset, gp.ErrorCode = p.Partition, p.Offset, p.ErrorCode
			gt.Partitions = append(gt.Partitions, gp)
		}
		topics = append(topics, gt)
	}
	if err := check(7, resp.ErrorCode, topics); err != nil {
		return err
	}

	req8 := kmsg.NewPtrOffsetFetchRequest()
	req8.Version = 10
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	gt := kmsg.NewOffsetFetchRequestGroupTopic()
	gt.Topic, gt.Partitions = topic, ps
	rg.Topics = append(rg.Topics, gt)
	req8.Groups = append(req8.Groups, rg)
	resp8, err := req8.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if len(resp8.Groups) != 1 {
		return fmt.Errorf("v8: %d groups answered", len(resp8.Groups))
	}
	return check(10, resp8.Groups[0].ErrorCode, resp8.Groups[0].Topics)
}

func TestOffsetFetchOfUnknownGroupAnswersMinusOne(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := start(t, "")
	cl := client(t, c)
	adm := kadm.NewClient(cl)
	topic := "compat-" + suffix()
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	if err := offsetFetchNewGroup(ctx, t, c.Brokers(), topic, 3); err != nil {
		t.Fatalf("OffsetFetch of a new group: %v", err)
	}
	// What KafkaJS admin.fetchOffsets and lag monitors do.
	got, err := adm.FetchOffsetsForTopics(ctx, "lag-"+suffix(), topic)
	if err != nil {
		t.Fatalf("kadm FetchOffsetsForTopics of a new group: %v", err)
	}
	if err := got.Error(); err != nil {
		t.Fatalf("kadm FetchOffsetsForTopics of a new group: %v", err)
	}

	// A known group is still kfake's to answer: its commit is returned.
	group := "known-" + suffix()
	commit := kadm.Offsets{}
	commit.Add(kadm.Offset{Topic: topic, Partition: 1, At: 42, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, group, commit); err != nil {
		t.Fatal(err)
	}
	fetched, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := fetched.Lookup(topic, 1); !ok || o.At != 42 {
		t.Fatalf("known group's committed offset: %+v %v", o, ok)
	}
}

// The twin: kfake without answerLikeKafka answers GROUP_ID_NOT_FOUND, so
// the check above can fail and the control function is what makes it pass.
func TestOffsetFetchOfUnknownGroupTwinBareKfake(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	k, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topic := "compat-" + suffix()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	err = offsetFetchNewGroup(ctx, t, k.ListenAddrs(), topic, 2)
	if err == nil || !strings.Contains(err.Error(), kerr.GroupIDNotFound.Message) {
		t.Fatalf("bare kfake: %v, want GROUP_ID_NOT_FOUND", err)
	}
}

// Requests third-party tools send where kfake already answers as Apache
// Kafka does; pinned so a kfake upgrade that changes them is noticed.
func TestBrokerAnswersLikeKafka(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := start(t, "")
	cl := client(t, c)
	adm := kadm.NewClient(cl)
	topic := "compat-" + suffix()
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, topic); err != nil {
		t.Fatal(err)
	}

	t.Run("DescribeGroups of an unknown group is Dead", func(t *testing.T) {
		// Kafka: no error before v6, GROUP_ID_NOT_FOUND from v6 (KIP-1043).
		for _, v := range []int16{5, 6} {
			req := kmsg.NewPtrDescribeGroupsRequest()
			req.Version = v
			req.Groups = []string{"never-" + suffix()}
			resp, err := req.RequestWith(ctx, pinned(t, c.Brokers(), int16(kmsg.DescribeGroups), v))
			if err != nil {
				t.Fatal(err)
			}
			g := resp.Groups[0]
			want := int16(0)
			if v >= 6 {
				want = kerr.GroupIDNotFound.Code
			}
			if g.State != "Dead" || g.ErrorCode != want {
				t.Fatalf("v%d: state %q error %v", v, g.State, kerr.ErrorForCode(g.ErrorCode))
			}
		}
	})
	t.Run("ListGroups lists a group that only committed offsets, as Empty", func(t *testing.T) {
		group := "committed-only-" + suffix()
		o := kadm.Offsets{}
		o.Add(kadm.Offset{Topic: topic, Partition: 0, At: 0, LeaderEpoch: -1})
		if _, err := adm.CommitOffsets(ctx, group, o); err != nil {
			t.Fatal(err)
		}
		listed, err := adm.ListGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if g, ok := listed[group]; !ok || g.State != "Empty" {
			t.Fatalf("ListGroups: %+v, listed %v", g, ok)
		}
	})
	t.Run("DescribeConfigs of a topic and of an unknown topic", func(t *testing.T) {
		rcs, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := rcs.On(topic, nil)
		if err != nil || rc.Err != nil {
			t.Fatalf("describe %s: %v %v", topic, err, rc.Err)
		}
		var policy *kadm.Config
		for i := range rc.Configs {
			if rc.Configs[i].Key == "cleanup.policy" {
				policy = &rc.Configs[i]
			}
		}
		if policy == nil || policy.MaybeValue() != "compact" || policy.Source != kmsg.ConfigSourceDynamicTopicConfig {
			t.Fatalf("cleanup.policy: %+v", policy)
		}
		rcs, err = adm.DescribeTopicConfigs(ctx, "no-such-topic-"+suffix())
		if err == nil {
			for _, rc := range rcs {
				err = rc.Err
			}
		}
		if !errors.Is(err, kerr.UnknownTopicOrPartition) {
			t.Fatalf("unknown topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
		}
	})
	t.Run("ListOffsets by timestamp", func(t *testing.T) {
		base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		for i := range 3 {
			r := &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("v"), Timestamp: base.Add(time.Duration(i) * time.Minute)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		ask := func(ts int64) kmsg.ListOffsetsResponseTopicPartition {
			req := kmsg.NewPtrListOffsetsRequest()
			req.Version = 7
			req.ReplicaID = -1
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = 0, ts
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			return resp.Topics[0].Partitions[0]
		}
		// Before the first record: the first record.
		if p := ask(base.Add(-time.Hour).UnixMilli()); p.ErrorCode != 0 || p.Offset != 0 {
			t.Fatalf("before the first record: %+v", p)
		}
		// Between records: the first record at or after it.
		if p := ask(base.Add(90 * time.Second).UnixMilli()); p.ErrorCode != 0 || p.Offset != 2 {
			t.Fatalf("between records: %+v", p)
		}
		// After the last record: Kafka answers offset -1, timestamp -1.
		if p := ask(time.Now().Add(time.Hour).UnixMilli()); p.ErrorCode != 0 || p.Offset != -1 || p.Timestamp != -1 {
			t.Fatalf("after the last record: %+v", p)
		}
		// -3 (KIP-734): the record with the largest timestamp.
		if p := ask(-3); p.ErrorCode != 0 || p.Offset != 2 {
			t.Fatalf("max timestamp: %+v", p)
		}
	})
}
