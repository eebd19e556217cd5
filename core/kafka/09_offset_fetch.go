package kafka

// OffsetFetch, key 9, versions 0-9.
//
// Deviations from Apache Kafka (core/group documents the coordinator's):
//   - v0 reads the group coordinator's offsets like every other version (Kafka 0.8 read
//     them from ZooKeeper).
//   - v9's member id and member epoch are not checked: they belong to KIP-848 consumer
//     groups, which seedlog does not have.
//
// As in Kafka, a partition without a committed offset reads -1 with no error; a null
// topic list (v2+) asks for every committed partition; with RequireStable (v7+) a
// partition with a commit on its way answers UNSTABLE_OFFSET_COMMIT. A coordinator error
// is carried per partition before v2, in the top-level code from v2, and per group from
// v8, where the groups of one request are answered in request order.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kmsg"
	"slices"
)

// OffsetFetch answers the committed offsets of one group (v0-7) or of each group (v8+).
func OffsetFetch(b Broker, req *kmsg.OffsetFetchRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	resp.SetVersion(req.GetVersion())
	if req.GetVersion() >= 8 {
		offsetFetchGroups(b, req, resp, reply)
		return
	}
	topics := make([]kmsg.OffsetFetchRequestGroupTopic, 0, len(req.Topics))
	for _, t := range req.Topics {
		topics = append(topics, kmsg.OffsetFetchRequestGroupTopic{Topic: t.Topic, Partitions: t.Partitions})
	}
	if req.Topics == nil && req.GetVersion() >= 2 {
		topics = nil // every committed partition; before v2 the list cannot be null
	}
	stable := req.GetVersion() >= 7 && req.RequireStable
	fetchGroupOffsets(b, req.Group, topics, stable, func(g kmsg.OffsetFetchResponseGroup) {
		switch {
		case g.ErrorCode != 0 && req.GetVersion() < 2:
			resp.Topics = failedOffsetTopics(req.Topics, g.ErrorCode)
		case g.ErrorCode != 0:
			resp.ErrorCode = g.ErrorCode
		default:
			resp.Topics = offsetTopics(g.Topics, req.GetVersion())
		}
		reply(resp)
	})
}

// offsetFetchGroups asks each group's coordinator and answers once all have.
func offsetFetchGroups(b Broker, req *kmsg.OffsetFetchRequest, resp *kmsg.OffsetFetchResponse, reply func(kmsg.Response)) {
	groups := make([]kmsg.OffsetFetchResponseGroup, len(req.Groups))
	g := newGather(func() {
		resp.Groups = groups
		reply(resp)
	})
	for i, rg := range req.Groups {
		g.add()
		fetchGroupOffsets(b, rg.Group, rg.Topics, req.RequireStable, func(ans kmsg.OffsetFetchResponseGroup) {
			groups[i] = ans
			g.answered()
		})
	}
	g.close()
}

// fetchGroupOffsets asks the group's coordinator, or answers with the routing error.
func fetchGroupOffsets(b Broker, groupID string, topics []kmsg.OffsetFetchRequestGroupTopic, stable bool, reply func(kmsg.OffsetFetchResponseGroup)) {
	c, code := groupCoordinator(b, acl.OpDescribe, groupID, false)
	if code != 0 {
		g := kmsg.NewOffsetFetchResponseGroup()
		g.Group, g.ErrorCode = groupID, code
		reply(g)
		return
	}
	v := b.View()
	if v.Access == nil {
		c.OffsetFetch(b.Now(), groupID, topics, stable, reply)
		return
	}
	// DESCRIBE on each topic: a named topic it may not describe is answered
	// TOPIC_AUTHORIZATION_FAILED; with every topic asked, such topics are left out.
	var asked, denied []kmsg.OffsetFetchRequestGroupTopic
	for _, t := range topics {
		if v.CheckTopic(acl.OpDescribe, t.Topic) != 0 {
			denied = append(denied, t)
		} else {
			asked = append(asked, t)
		}
	}
	if topics != nil && asked == nil {
		asked = []kmsg.OffsetFetchRequestGroupTopic{} // not "every topic"
	}
	c.OffsetFetch(b.Now(), groupID, asked, stable, func(g kmsg.OffsetFetchResponseGroup) {
		if g.ErrorCode == 0 {
			g.Topics = slices.DeleteFunc(g.Topics, func(t kmsg.OffsetFetchResponseGroupTopic) bool {
				return v.CheckTopic(acl.OpDescribe, t.Topic) != 0
			})
			for _, t := range denied {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition, rp.Offset, rp.ErrorCode = p, -1, v.CheckTopic(acl.OpDescribe, t.Topic)
					rt.Partitions = append(rt.Partitions, rp)
				}
				g.Topics = append(g.Topics, rt)
			}
		}
		reply(g)
	})
}

// offsetTopics converts a group's answer to the pre-v8 shape; leader epochs are v5+.
func offsetTopics(topics []kmsg.OffsetFetchResponseGroupTopic, version int16) []kmsg.OffsetFetchResponseTopic {
	var out []kmsg.OffsetFetchResponseTopic
	for _, t := range topics {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.Metadata, p.ErrorCode
			if version >= 5 {
				rp.LeaderEpoch = p.LeaderEpoch
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		out = append(out, rt)
	}
	return out
}

// failedOffsetTopics answers every requested partition with code (v0-1, which have no
// top-level error code).
func failedOffsetTopics(topics []kmsg.OffsetFetchRequestTopic, code int16) []kmsg.OffsetFetchResponseTopic {
	var out []kmsg.OffsetFetchResponseTopic
	for _, t := range topics {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.Metadata, rp.ErrorCode = p, -1, kmsg.StringPtr(""), code
			rt.Partitions = append(rt.Partitions, rp)
		}
		out = append(out, rt)
	}
	return out
}
