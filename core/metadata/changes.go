package metadata

import (
	"cmp"
	"maps"
	"slices"
)

// PartitionChanges lists the partitions whose state, or whose topic's configs, differ
// between prev and im, sorted by topic name, topic id, then partition: those of topics
// created, deleted or changed in between. A topic deleted and created again under the
// same name appears under both ids. clusterConfigs reports that the cluster-wide
// configs changed, which every topic may inherit.
//
// Images share every topic no record touched, so the cost is one lookup per topic plus
// one comparison per partition of the topics that did change, not one per partition.
func (im Image) PartitionChanges(prev Image) (changed []TopicPartition, clusterConfigs bool) {
	clusterConfigs = !maps.Equal(prev.brokerConfigs[""], im.brokerConfigs[""])
	if im.shards == prev.shards {
		return nil, clusterConfigs
	}
	var topics []*topicState
	// order-independent: the topics are sorted below.
	for _, id := range im.topicIDs {
		if t := im.topic(id); t != prev.topic(id) {
			topics = append(topics, t)
		}
	}
	// order-independent: as above.
	for _, id := range prev.topicIDs {
		if im.topic(id) == nil {
			topics = append(topics, prev.topic(id))
		}
	}
	slices.SortFunc(topics, func(a, b *topicState) int {
		if c := cmp.Compare(a.name, b.name); c != 0 {
			return c
		}
		return slices.Compare(a.id[:], b.id[:])
	})
	for _, t := range topics {
		was, now := prev.topic(t.id), im.topic(t.id)
		if was == nil || now == nil || !maps.Equal(was.configs, now.configs) {
			for p := range t.partitions {
				changed = append(changed, TopicPartition{Topic: t.name, TopicID: t.id, Partition: int32(p)})
			}
			continue
		}
		for p := range max(len(was.partitions), len(now.partitions)) {
			if p >= len(was.partitions) || p >= len(now.partitions) || !was.partitions[p].equal(&now.partitions[p]) {
				changed = append(changed, TopicPartition{Topic: t.name, TopicID: t.id, Partition: int32(p)})
			}
		}
	}
	return changed, clusterConfigs
}

func (ps *PartitionState) equal(o *PartitionState) bool {
	return ps.TopicID == o.TopicID && ps.Partition == o.Partition && ps.Leader == o.Leader &&
		ps.LeaderEpoch == o.LeaderEpoch && ps.PartitionEpoch == o.PartitionEpoch &&
		slices.Equal(ps.Replicas, o.Replicas) && slices.Equal(ps.ISR, o.ISR) &&
		slices.Equal(ps.Adding, o.Adding) && slices.Equal(ps.Removing, o.Removing)
}
