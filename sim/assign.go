package sim

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The consumer group leader's assignors, as Kafka's Java client computes them (franz-go
// matches): members are ordered by group.instance.id when they have one (KIP-345, so a
// static member keeps its partitions across restarts), else by member id.

// assignMember is one member as the leader sees it in the JoinGroup answer.
type assignMember struct {
	id       string
	instance string
	topics   []string // subscription
}

func (m assignMember) sortKey() string {
	if m.instance != "" {
		return m.instance
	}
	return m.id
}

func orderMembers(members []assignMember) []assignMember {
	out := slices.Clone(members)
	slices.SortStableFunc(out, func(a, b assignMember) int {
		if c := cmp.Compare(a.sortKey(), b.sortKey()); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	return out
}

// rangeAssign is the range assignor: per topic, the members subscribed to it share its
// partitions in contiguous ranges, the first (n mod m) members taking one more.
func rangeAssign(members []assignMember, partitions map[string]int32) map[string][]TopicPartition {
	out := map[string][]TopicPartition{}
	ordered := orderMembers(members)
	for _, topic := range sortedKeys(partitions) {
		var subs []assignMember
		for _, m := range ordered {
			if slices.Contains(m.topics, topic) {
				subs = append(subs, m)
			}
		}
		if len(subs) == 0 {
			continue
		}
		n := partitions[topic]
		per, extra := n/int32(len(subs)), n%int32(len(subs))
		for i, m := range subs {
			i := int32(i)
			start := i*per + min(i, extra)
			count := per
			if i < extra {
				count++
			}
			for p := start; p < start+count; p++ {
				out[m.id] = append(out[m.id], TopicPartition{topic, p})
			}
		}
	}
	return out
}

// roundRobinAssign is the round-robin assignor: every partition of every subscribed
// topic, sorted by topic then partition, goes to the next member in circular order that
// subscribes to its topic.
func roundRobinAssign(members []assignMember, partitions map[string]int32) map[string][]TopicPartition {
	out := map[string][]TopicPartition{}
	ordered := orderMembers(members)
	if len(ordered) == 0 {
		return out
	}
	next := 0
	for _, topic := range sortedKeys(partitions) {
		subscribed := false
		for _, m := range ordered {
			subscribed = subscribed || slices.Contains(m.topics, topic)
		}
		if !subscribed {
			continue
		}
		for p := range partitions[topic] {
			for !slices.Contains(ordered[next%len(ordered)].topics, topic) {
				next++
			}
			m := ordered[next%len(ordered)]
			out[m.id] = append(out[m.id], TopicPartition{topic, p})
			next++
		}
	}
	return out
}

// encodeAssignment encodes a member's partitions as ConsumerMemberAssignment v0.
func encodeAssignment(tps []TopicPartition) []byte {
	a := kmsg.NewConsumerMemberAssignment()
	for _, tp := range tps {
		if n := len(a.Topics); n == 0 || a.Topics[n-1].Topic != tp.Topic {
			t := kmsg.NewConsumerMemberAssignmentTopic()
			t.Topic = tp.Topic
			a.Topics = append(a.Topics, t)
		}
		t := &a.Topics[len(a.Topics)-1]
		t.Partitions = append(t.Partitions, tp.Partition)
	}
	return a.AppendTo(nil)
}

// decodeAssignment decodes a ConsumerMemberAssignment into sorted partitions. Empty
// bytes are an empty assignment.
func decodeAssignment(b []byte) ([]TopicPartition, error) {
	if len(b) == 0 {
		return nil, nil
	}
	a := kmsg.NewConsumerMemberAssignment()
	if err := a.ReadFrom(b); err != nil {
		return nil, err
	}
	var out []TopicPartition
	for _, t := range a.Topics {
		for _, p := range t.Partitions {
			out = append(out, TopicPartition{t.Topic, p})
		}
	}
	sortedPartitions(out)
	return out, nil
}

// encodeSubscription encodes a member's topics as ConsumerMemberMetadata v0.
func encodeSubscription(topics []string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = slices.Clone(topics)
	return m.AppendTo(nil)
}

func decodeSubscription(b []byte) ([]string, error) {
	m := kmsg.NewConsumerMemberMetadata()
	if err := m.ReadFrom(b); err != nil {
		return nil, err
	}
	return m.Topics, nil
}
