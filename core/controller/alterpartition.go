package controller

import (
	"fmt"
	"slices"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// alterPartition handles a partition leader's ISR change (KIP-497, with KIP-841's
// eligibility and KIP-903's broker epochs from v3).
func (c *Controller) alterPartition(p Proposer, from int32, m *kmsg.AlterPartitionRequest) kmsg.Response {
	resp := kmsg.NewPtrAlterPartitionResponse()
	resp.Version = m.Version
	if out := c.checkAlterPartitionSender(from, m); out.failed() {
		resp.ErrorCode = out.code
		return resp
	}
	var recs []metadata.Record
	seen := map[metadata.TopicPartition]bool{}
	for _, t := range m.Topics {
		rt := kmsg.NewAlterPartitionResponseTopic()
		rt.Topic, rt.TopidID = t.Topic, t.TopicID
		info, topicOut := c.alterPartitionTopic(m.Version, t)
		for _, rp := range t.Partitions {
			out := topicOut
			tp := metadata.TopicPartition{TopicID: info.ID, Partition: rp.Partition}
			if !out.failed() && seen[tp] {
				out = fail(errInvalidRequest, "partition listed more than once")
			}
			seen[tp] = true
			var ps metadata.PartitionState
			var change *metadata.PartitionChange
			if !out.failed() {
				ps, change, out = c.alterOne(m, info.ID, rp)
			}
			if change != nil {
				recs = append(recs, *change)
			}
			rt.Partitions = append(rt.Partitions, alterPartitionResult(rp.Partition, ps, out))
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(recs) > c.proposalMax {
		return alterPartitionError(m, fail(errInvalidRequest, "too many partitions in one request"))
	}
	if out := proposeOutcome(c.propose(p, recs)); out.failed() {
		return alterPartitionError(m, out)
	}
	return resp
}

func (c *Controller) checkAlterPartitionSender(from int32, m *kmsg.AlterPartitionRequest) outcome {
	if from != m.BrokerID {
		return fail(errClusterAuthorizationFailed, "")
	}
	if b, ok := c.pending.Broker(m.BrokerID); !ok || b.Epoch != m.BrokerEpoch {
		return fail(errStaleBrokerEpoch, "")
	}
	return ok()
}

// alterPartitionTopic resolves a topic by name (v0-1) or id (v2+).
func (c *Controller) alterPartitionTopic(version int16, t kmsg.AlterPartitionRequestTopic) (metadata.TopicInfo, outcome) {
	if version < 2 {
		info, found := c.pending.Topic(t.Topic)
		if !found {
			return info, fail(errUnknownTopicOrPartition, "")
		}
		return info, ok()
	}
	info, found := c.pending.TopicByID(t.TopicID)
	if !found {
		return info, fail(errUnknownTopicID, "")
	}
	return info, ok()
}

// alterOne checks one partition's ISR change and returns the partition as it will be.
// The change is nil when the ISR is already the requested one.
func (c *Controller) alterOne(m *kmsg.AlterPartitionRequest, topicID [16]byte,
	rp kmsg.AlterPartitionRequestTopicPartition) (metadata.PartitionState, *metadata.PartitionChange, outcome) {
	ps, found := c.pending.Partition(topicID, rp.Partition)
	switch {
	case !found:
		return ps, nil, fail(errUnknownTopicOrPartition, "")
	case rp.LeaderEpoch != ps.LeaderEpoch:
		return ps, nil, fail(errFencedLeaderEpoch, fmt.Sprintf("leader epoch %d, current %d", rp.LeaderEpoch, ps.LeaderEpoch))
	case m.BrokerID != ps.Leader:
		return ps, nil, fail(errInvalidRequest, fmt.Sprintf("broker %d is not the leader", m.BrokerID))
	case rp.LeaderRecoveryState != 0:
		return ps, nil, fail(errInvalidRequest, "leader recovery is not supported (no unclean election)")
	case rp.PartitionEpoch != ps.PartitionEpoch:
		return ps, nil, fail(errInvalidUpdateVersion, fmt.Sprintf("partition epoch %d, current %d", rp.PartitionEpoch, ps.PartitionEpoch))
	}
	isr, epochs := requestedISR(m.Version, rp)
	if !slices.Contains(isr, ps.Leader) {
		return c.resignation(ps, topicID, rp.Partition, isr)
	}
	if out := c.checkNewISR(ps, isr, epochs); out.failed() {
		return ps, nil, out
	}
	if slices.Equal(isr, ps.ISR) {
		return ps, nil, ok()
	}
	change := metadata.PartitionChange{TopicID: topicID, Partition: rp.Partition, ISR: isr, Leader: metadata.LeaderUnchanged}
	ps.ISR = isr
	ps.PartitionEpoch++
	return ps, &change, ok()
}

// resignation handles an ISR change that leaves out the leader that sent it: its log is
// damaged (synced data failed validation) while other in-sync replicas may hold the data
// intact, and it stopped serving before it asked (seedlog's extension of AlterPartition;
// Kafka never lets a leader leave its ISR). The new ISR must be exactly the current one
// without the leader. The first replica in replica order that is in it and neither
// fenced nor shutting down becomes the leader, or none when every member is down: the
// partition then waits for one of them rather than have a damaged copy lead. The
// leader's removal from the ISR is what keeps it from being elected again until it has
// fetched its damage back and its next leader lets it in.
func (c *Controller) resignation(ps metadata.PartitionState, topicID [16]byte, partition int32,
	isr []int32) (metadata.PartitionState, *metadata.PartitionChange, outcome) {
	want := slices.DeleteFunc(slices.Clone(ps.ISR), func(id int32) bool { return id == ps.Leader })
	if len(isr) == 0 || !sameSet(isr, want) {
		return ps, nil, fail(errInvalidRequest, fmt.Sprintf("ISR %v must hold the leader %d, or be the ISR %v without it", isr, ps.Leader, ps.ISR))
	}
	leader := metadata.NoLeader
	for _, r := range ps.Replicas {
		if slices.Contains(isr, r) && !c.leaving(r) {
			leader = r
			break
		}
	}
	change := metadata.PartitionChange{TopicID: topicID, Partition: partition, ISR: slices.Clone(isr), Leader: leader}
	ps.ISR, ps.Leader = slices.Clone(isr), leader
	ps.PartitionEpoch++
	ps.LeaderEpoch++
	return ps, &change, ok()
}

// sameSet reports whether a and b hold the same ids, each once.
func sameSet(a, b []int32) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b) && len(slices.Compact(slices.Clone(a))) == len(a)
}

// requestedISR returns the new ISR and, from v3, the broker epoch of each member.
func requestedISR(version int16, rp kmsg.AlterPartitionRequestTopicPartition) ([]int32, []int64) {
	if version < 3 {
		return slices.Clone(rp.NewISR), nil
	}
	isr := make([]int32, 0, len(rp.NewEpochISR))
	epochs := make([]int64, 0, len(rp.NewEpochISR))
	for _, e := range rp.NewEpochISR {
		isr = append(isr, e.BrokerID)
		epochs = append(epochs, e.BrokerEpoch)
	}
	return isr, epochs
}

// checkNewISR: a non-empty subset of the replicas holding the leader, every member
// unfenced, not shutting down, and (when epochs are given) at its current epoch.
func (c *Controller) checkNewISR(ps metadata.PartitionState, isr []int32, epochs []int64) outcome {
	if len(isr) == 0 || !slices.Contains(isr, ps.Leader) {
		return fail(errInvalidRequest, fmt.Sprintf("ISR %v must hold the leader %d", isr, ps.Leader))
	}
	for i, id := range isr {
		if !slices.Contains(ps.Replicas, id) || slices.Contains(isr[:i], id) {
			return fail(errInvalidRequest, fmt.Sprintf("ISR %v is not a set of replicas %v", isr, ps.Replicas))
		}
		if c.leaving(id) {
			return fail(errIneligibleReplica, fmt.Sprintf("broker %d is fenced or shutting down", id))
		}
		if epochs != nil && epochs[i] != -1 {
			if b, _ := c.pending.Broker(id); b.Epoch != epochs[i] {
				return fail(errIneligibleReplica, fmt.Sprintf("broker %d epoch %d, current %d", id, epochs[i], b.Epoch))
			}
		}
	}
	for _, id := range ps.ISR {
		if !slices.Contains(isr, id) && id != ps.Leader && c.mayStillLead(id) {
			// A preferred election took this partition from it (elect.go): until it
			// applied that or its lease ended, it may still serve as leader, and only
			// its place in the ISR holds the new leader's high watermark back.
			b, _ := c.pending.Broker(id)
			return fail(errIneligibleReplica, fmt.Sprintf("broker %d may still lead until it applies offset %d or its lease ends", id, b.CatchUpOffset))
		}
	}
	return ok()
}

func alterPartitionResult(p int32, ps metadata.PartitionState, out outcome) kmsg.AlterPartitionResponseTopicPartition {
	r := kmsg.NewAlterPartitionResponseTopicPartition()
	r.Partition, r.ErrorCode = p, out.code
	r.LeaderID = metadata.NoLeader
	if !out.failed() {
		r.LeaderID, r.LeaderEpoch, r.ISR, r.PartitionEpoch = ps.Leader, ps.LeaderEpoch, ps.ISR, ps.PartitionEpoch
	}
	return r
}

func alterPartitionError(m *kmsg.AlterPartitionRequest, out outcome) kmsg.Response {
	resp := kmsg.NewPtrAlterPartitionResponse()
	resp.Version = m.Version
	resp.ErrorCode = out.code
	return resp
}
