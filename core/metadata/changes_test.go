package metadata

import (
	"slices"
	"testing"
)

// PartitionChanges lists exactly the partitions a record touched: their state, their
// topic's configs, a topic created or removed; and flags the cluster-wide configs.
func TestPartitionChanges(t *testing.T) {
	base := mustApply(t, baseImage(t), Topic{Name: "u", ID: topicU},
		Partition{TopicID: topicU, Partition: 0, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1})
	tp := func(name string, id [16]byte, p int32) TopicPartition { return TopicPartition{name, id, p} }
	cases := []struct {
		name    string
		recs    []Record
		want    []TopicPartition
		cluster bool
	}{
		{"nothing", nil, nil, false},
		{"isr", []Record{PartitionChange{TopicID: topicT, Partition: 1, ISR: []int32{2, 3}, Leader: LeaderUnchanged}},
			[]TopicPartition{tp("t", topicT, 1)}, false},
		{"leader", []Record{PartitionChange{TopicID: topicU, Partition: 0, Leader: NoLeader}},
			[]TopicPartition{tp("u", topicU, 0)}, false},
		{"topic config", []Record{Config{Resource: ConfigTopic, Name: "t", Key: "retention.ms", Value: "2"}},
			[]TopicPartition{tp("t", topicT, 0), tp("t", topicT, 1)}, false},
		{"new partition", []Record{Partition{TopicID: topicU, Partition: 1, Replicas: []int32{2}, ISR: []int32{2}, Leader: 2}},
			[]TopicPartition{tp("u", topicU, 1)}, false},
		{"removed topic", []Record{RemoveTopic{TopicID: topicT}},
			[]TopicPartition{tp("t", topicT, 0), tp("t", topicT, 1)}, false},
		{"cluster config", []Record{Config{Resource: ConfigBroker, Name: "", Key: "retention.ms", Value: "5"}}, nil, true},
		{"one broker's config", []Record{Config{Resource: ConfigBroker, Name: "1", Key: "retention.ms", Value: "5"}}, nil, false},
		{"broker fenced", []Record{FenceBroker{BrokerID: 2, BrokerEpoch: 1}}, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			im := base
			if len(c.recs) > 0 {
				im = mustApply(t, base, c.recs...)
			}
			got, cluster := im.PartitionChanges(base)
			if !slices.Equal(got, c.want) || cluster != c.cluster {
				t.Fatalf("got %v, cluster configs %v; want %v, %v", got, cluster, c.want, c.cluster)
			}
		})
	}
	// An image decoded from a snapshot shares nothing with base, and says the same.
	if got, cluster := mustDecodeSnapshot(t, base.EncodeSnapshot()).PartitionChanges(base); got != nil || cluster {
		t.Fatalf("snapshot of the same image: %v, %v", got, cluster)
	}
	// From the empty image every partition is new, in topic name order.
	got, _ := base.PartitionChanges(Image{})
	if want := []TopicPartition{tp("t", topicT, 0), tp("t", topicT, 1), tp("u", topicU, 0)}; !slices.Equal(got, want) {
		t.Fatalf("from the empty image: %v, want %v", got, want)
	}
}
