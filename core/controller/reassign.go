package controller

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Reassignment (KIP-455: AlterPartitionReassignments, key 45). A move from replicas O to
// a target T first widens the replica set to T then O∖T (a Reassign record with Adding
// T∖O and Removing O∖T); the leader brings the new replicas into the ISR as they catch
// up, as it would any follower. Then, in order, each step a proposal of its own:
//
//  1. once every member of T is in the ISR, a leader in O∖T hands its leadership to the
//     first ISR member of T that is eligible (a PartitionChange, so the partition-side
//     handoff of a live leader applies, as for a preferred election);
//  2. once no replica being removed may still lead (mayStillLead: it applied the record
//     that took a leadership from it, or every lease it held has ended), a Reassign sets
//     the replicas to T and the ISR to its members in T, ending the move.
//
// So the old replicas leave only once the new ones hold every committed record, and a
// partition never has fewer in-sync copies than its target while it moves. A request
// naming a partition already moving replaces the target (from the whole current set,
// as Kafka does, except that a replica the earlier target was adding stays in Adding).
// Null replicas cancel: the replicas go back to those the move did not add, with the
// ISR cut to them. The cancellation is refused when a replica being added leads, until
// leadership returns (an election would be a handoff of its own), and when the ISR left
// would be smaller than min.insync.replicas (or the replicas left): an acknowledged
// record may then have fewer copies than it was acknowledged on.

// moveRecheck is how often a moving partition whose next step waits on time (a lease
// running out) is looked at again when nothing commits.
const moveRecheck = 200 * time.Millisecond

// Error codes of reassignment.
const (
	errNoReassignmentInProgress int16 = 85
)

func (c *Controller) alterReassignments(p Proposer, m *kmsg.AlterPartitionAssignmentsRequest) kmsg.Response {
	resp := kmsg.NewPtrAlterPartitionAssignmentsResponse()
	resp.Version = m.Version
	if listedPartitions(m.Topics, func(t kmsg.AlterPartitionAssignmentsRequestTopic) int { return len(t.Partitions) }) > partitionsListedMax {
		resp.ErrorCode = errInvalidRequest
		return resp
	}
	allowRFChange := m.Version < 1 || m.AllowReplicationFactorChange
	// proposed is a record's place in the answer: topic and partition indexes.
	type proposed struct{ topic, part int }
	var recs []metadata.Record
	var places []proposed
	seen := map[metadata.TopicPartition]bool{}
	load := &brokerLoad{c: c}
	for _, t := range m.Topics {
		rt := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		rt.Topic = t.Topic
		info, found := c.pending.Topic(t.Topic)
		for _, part := range t.Partitions {
			tp := metadata.TopicPartition{TopicID: info.ID, Partition: part.Partition}
			var out outcome
			var rec metadata.Record
			ps, exists := c.pending.Partition(info.ID, part.Partition)
			switch {
			case !found || !exists:
				out = fail(errUnknownTopicOrPartition, "")
			case seen[tp]:
				out = fail(errInvalidRequest, "partition listed more than once")
			case len(recs) == RequestRecordsMax:
				out = fail(errThrottlingQuotaExceeded, "request proposes too many records; retry the rest")
			case part.Replicas == nil:
				rec, out = c.cancelMove(ps)
			default:
				rec, out = c.startMove(ps, part.Replicas, allowRFChange)
				if rec != nil {
					rec, out = load.admitMove(ps, rec)
				}
			}
			seen[tp] = true
			if rec != nil {
				places = append(places, proposed{len(resp.Topics), len(rt.Partitions)})
				recs = append(recs, rec)
			}
			rp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			rp.Partition, rp.ErrorCode, rp.ErrorMessage = part.Partition, out.code, out.message()
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	failedFrom, failure := c.proposeChunks(p, recs)
	for i, at := range places {
		if i >= failedFrom {
			rp := &resp.Topics[at.topic].Partitions[at.part]
			rp.ErrorCode, rp.ErrorMessage = failure.code, failure.message()
			continue
		}
		c.noteMoving(recs[i])
	}
	return resp
}

// startMove plans the record that starts (or retargets) a move to target; nil with
// success when the partition already has that target.
func (c *Controller) startMove(ps metadata.PartitionState, target []int32, allowRFChange bool) (metadata.Record, outcome) {
	if out := c.checkTarget(target); out.failed() {
		return nil, out
	}
	current := ps.Target()
	if !allowRFChange && len(target) != len(current) {
		return nil, fail(errInvalidReplicationFactor, fmt.Sprintf("the target has %d replicas, the partition %d, and the request does not allow a change", len(target), len(current)))
	}
	if slices.Equal(target, current) {
		return nil, ok() // already there or already going there
	}
	ra := metadata.Reassign{TopicID: ps.TopicID, Partition: ps.Partition, Leader: metadata.LeaderUnchanged}
	ra.Replicas = slices.Clone(target)
	for _, id := range ps.Replicas {
		if !slices.Contains(target, id) {
			ra.Replicas = append(ra.Replicas, id)
			ra.Removing = append(ra.Removing, id)
		}
	}
	for _, id := range target {
		// A replica an earlier target was adding is still being added.
		if !slices.Contains(ps.Replicas, id) || slices.Contains(ps.Adding, id) {
			ra.Adding = append(ra.Adding, id)
		}
	}
	return ra, ok()
}

// checkTarget checks a requested replica list: 1..ReplicasMax distinct registered
// brokers.
func (c *Controller) checkTarget(target []int32) outcome {
	if len(target) == 0 || len(target) > metadata.ReplicasMax {
		return fail(errInvalidReplicaAssignment, fmt.Sprintf("%d replicas, want 1 to %d", len(target), metadata.ReplicasMax))
	}
	for i, id := range target {
		if slices.Contains(target[:i], id) {
			return fail(errInvalidReplicaAssignment, fmt.Sprintf("broker %d listed twice", id))
		}
		if _, ok := c.pending.Broker(id); !ok {
			return fail(errInvalidReplicaAssignment, fmt.Sprintf("broker %d is not registered", id))
		}
	}
	return ok()
}

// cancelMove plans the record that reverts a move.
func (c *Controller) cancelMove(ps metadata.PartitionState) (metadata.Record, outcome) {
	if !ps.Moving() {
		return nil, fail(errNoReassignmentInProgress, "")
	}
	if slices.Contains(ps.Adding, ps.Leader) {
		return nil, fail(errInvalidReplicaAssignment, fmt.Sprintf("broker %d, a replica being added, leads the partition: let the move finish, or cancel once an original replica leads again", ps.Leader))
	}
	for _, id := range ps.Adding {
		if c.mayStillLead(id) {
			return nil, fail(errRequestTimedOut, fmt.Sprintf("broker %d, a replica being added, led the partition moments ago; retry", id))
		}
	}
	ra := metadata.Reassign{TopicID: ps.TopicID, Partition: ps.Partition, Leader: metadata.LeaderUnchanged}
	for _, id := range ps.Replicas {
		if !slices.Contains(ps.Adding, id) {
			ra.Replicas = append(ra.Replicas, id)
		}
	}
	ra.ISR = inSet(ps.ISR, ra.Replicas)
	if need := min(c.minISR(ps.TopicID), len(ra.Replicas)); len(ra.ISR) < need {
		// Acknowledged records may be on the added replicas alone beyond these.
		return nil, fail(errInvalidReplicaAssignment, fmt.Sprintf("cancelling would leave %d in-sync replicas %v, below min.insync.replicas %d: let the move finish",
			len(ra.ISR), ra.ISR, need))
	}
	return ra, ok()
}

// minISR is a topic's min.insync.replicas as this node resolves it (at least 1).
func (c *Controller) minISR(topicID [16]byte) int {
	info, _ := c.pending.TopicByID(topicID)
	v, _, _ := c.pending.ResolveTopicConfig(info.Name, "min.insync.replicas", c.cfg.Static)
	n, _ := strconv.Atoi(strings.TrimSpace(v))
	return max(n, 1)
}

// inSet returns the members of ids that are in set, in ids' order.
func inSet(ids, set []int32) []int32 {
	out := make([]int32, 0, len(ids))
	for _, id := range ids {
		if slices.Contains(set, id) {
			out = append(out, id)
		}
	}
	return out
}

// noteMoving remembers a partition a proposed record set moving, so advanceMoves looks
// at it.
// c.moving holds topic ids and partitions, no names.
func (c *Controller) noteMoving(rec metadata.Record) {
	ra, isMove := rec.(metadata.Reassign)
	if !isMove || len(ra.Adding)+len(ra.Removing) == 0 {
		return
	}
	tp := metadata.TopicPartition{TopicID: ra.TopicID, Partition: ra.Partition}
	if !slices.Contains(c.moving, tp) {
		c.moving = append(c.moving, tp)
	}
	c.moveAt = c.now
}

// findMoving lists the moving partitions of the image, at activation.
func (c *Controller) findMoving() {
	c.moving = nil
	for _, t := range c.pending.Topics() {
		for _, ps := range c.pending.Partitions(t.ID) {
			if ps.Moving() {
				c.moving = append(c.moving, metadata.TopicPartition{TopicID: t.ID, Partition: ps.Partition})
			}
		}
	}
	c.moveAt = c.now
}

// advanceMoves proposes the next step of every moving partition that can take one, and
// forgets those no longer moving (finished, cancelled, or deleted with their topic).
func (c *Controller) advanceMoves(p Proposer) {
	c.moveAt = c.now + int64(moveRecheck)
	var recs []metadata.Record
	keep := c.moving[:0]
	for _, tp := range c.moving {
		ps, found := c.pending.Partition(tp.TopicID, tp.Partition)
		if !found || !ps.Moving() {
			continue
		}
		keep = append(keep, tp)
		if rec := c.nextMoveStep(ps); rec != nil && len(recs) < c.proposalMax {
			recs = append(recs, rec)
		}
	}
	c.moving = keep
	if len(recs) == 0 {
		return
	}
	if c.propose(p, recs) != nil {
		c.moveAt = c.now + int64(proposeRetry)
	}
}

// nextMoveStep is the record that takes a moving partition one step on, nil while it
// must wait (see the comment at the top of the file).
func (c *Controller) nextMoveStep(ps metadata.PartitionState) metadata.Record {
	if c.cfg.Plants.On(plant.MoveStalls) {
		return nil
	}
	target := ps.Target()
	if !c.cfg.Plants.On(plant.ReassignBeforeISR) {
		for _, id := range target {
			if !slices.Contains(ps.ISR, id) {
				return nil // still catching up
			}
		}
	}
	if !slices.Contains(target, ps.Leader) {
		for _, id := range target {
			if slices.Contains(ps.ISR, id) && !c.leaving(id) {
				return metadata.PartitionChange{TopicID: ps.TopicID, Partition: ps.Partition, Leader: id}
			}
		}
		return nil
	}
	for _, id := range ps.Removing {
		if c.mayStillLead(id) {
			return nil
		}
	}
	return metadata.Reassign{TopicID: ps.TopicID, Partition: ps.Partition, Replicas: target,
		ISR: inSet(ps.ISR, target), Leader: metadata.LeaderUnchanged}
}

// unregisterBroker removes a broker's registration (UnregisterBroker, key 64), the last
// step of decommissioning it. Kafka lets a broker that still holds replicas go, leaving
// them under-replicated for good; seedlog refuses until they are moved away, and refuses
// a broker that is running (it would register again at its next heartbeat).
func (c *Controller) unregisterBroker(p Proposer, m *kmsg.UnregisterBrokerRequest) kmsg.Response {
	resp := kmsg.NewPtrUnregisterBrokerResponse()
	resp.Version = m.Version
	out := c.unregisterOutcome(p, m.BrokerID)
	resp.ErrorCode, resp.ErrorMessage = out.code, out.message()
	return resp
}

func (c *Controller) unregisterOutcome(p Proposer, id int32) outcome {
	epoch, fenced, registered := c.pending.BrokerEpoch(id)
	if !registered {
		return fail(errBrokerIDNotRegistered, fmt.Sprintf("broker %d is not registered", id))
	}
	if held := c.pending.PartitionsReplicatedOn(id); len(held) > 0 {
		return fail(errInvalidRequest, fmt.Sprintf("broker %d still holds %d replicas (%s-%d first): move them away first (seedlog cluster decommission does)",
			id, len(held), held[0].Topic, held[0].Partition))
	}
	if !fenced {
		return fail(errInvalidRequest, fmt.Sprintf("broker %d is running: stop it first, or it registers again", id))
	}
	return proposeOutcome(c.propose(p, []metadata.Record{metadata.UnregisterBroker{BrokerID: id, BrokerEpoch: epoch}}))
}
