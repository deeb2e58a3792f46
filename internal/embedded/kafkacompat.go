package embedded

// Where kfake answers a request differently from Apache Kafka in a way that
// third-party tools trip over, the broker answers as Kafka does through a
// kfake control function, without forking kfake. The differences checked
// and found to match Kafka already are listed in docs/clients.md and pinned
// by kafkacompat_test.go.

import (
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// answerLikeKafka installs the control functions on k.
func answerLikeKafka(k *kfake.Cluster) {
	k.ControlKey(int16(kmsg.OffsetFetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		k.KeepControl()
		resp := offsetFetchUnknownGroups(req.(*kmsg.OffsetFetchRequest), func(g string) bool { return k.GroupInfo(g) != nil })
		return resp, nil, resp != nil
	})
}

// offsetFetchUnknownGroups answers an OffsetFetch whose groups the broker
// has never seen as Apache Kafka does: every asked partition at offset -1
// with no error (kfake: GROUP_ID_NOT_FOUND, which KafkaJS fetchOffsets,
// librdkafka committed(), `kcat -o stored` and lag monitors treat as fatal
// on a new group's first run). It returns nil — let kfake answer — when
// any group is known or invalid, since one response cannot mix the two.
//
// The control function runs off kfake's loop, so known may call
// Cluster.GroupInfo.
func offsetFetchUnknownGroups(req *kmsg.OffsetFetchRequest, known func(string) bool) *kmsg.OffsetFetchResponse {
	groups := req.Groups
	if req.Version <= 7 {
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group = req.Group
		for _, t := range req.Topics {
			rt := kmsg.NewOffsetFetchRequestGroupTopic()
			rt.Topic, rt.Partitions = t.Topic, t.Partitions
			g.Topics = append(g.Topics, rt)
		}
		if req.Topics == nil {
			g.Topics = nil
		}
		groups = []kmsg.OffsetFetchRequestGroup{g}
	}
	if len(groups) == 0 {
		return nil
	}
	for _, g := range groups {
		if g.Group == "" || known(g.Group) {
			return nil
		}
	}

	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	resp.Version = req.Version
	for _, g := range groups {
		sg := kmsg.NewOffsetFetchResponseGroup()
		sg.Group = g.Group
		for _, t := range g.Topics { // nil topics ("all"): nothing committed, nothing listed
			st := kmsg.NewOffsetFetchResponseGroupTopic()
			st.Topic, st.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				sp.Partition = p
				sp.Offset = -1
				sp.LeaderEpoch = -1
				st.Partitions = append(st.Partitions, sp)
			}
			sg.Topics = append(sg.Topics, st)
		}
		resp.Groups = append(resp.Groups, sg)
	}
	if req.Version <= 7 {
		for _, t := range resp.Groups[0].Topics {
			st := kmsg.NewOffsetFetchResponseTopic()
			st.Topic = t.Topic
			for _, p := range t.Partitions {
				sp := kmsg.NewOffsetFetchResponseTopicPartition()
				sp.Partition, sp.Offset, sp.LeaderEpoch = p.Partition, p.Offset, p.LeaderEpoch
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		resp.Groups = nil
	}
	return resp
}
