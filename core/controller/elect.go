package controller

import (
	"fmt"
	"slices"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Preferred leaders (ElectLeaders, key 43, and auto.leader.rebalance.enable): a
// partition's preferred leader is its first replica. A preferred election moves the
// leadership there when that replica is in the ISR and eligible (unfenced, not shutting
// down). Unlike every other leadership move, the leader it replaces is alive, stays in
// the ISR and may hold a lease, and it stops leading only when it applies the record. So
// that two leaders never serve at once:
//
//   - the new leader serves no client until the old one fetched from it in the new
//     epoch, which it does only once it follows, or left the ISR
//     (core/partition: leaderState.awaiting);
//   - the controller lets the new leader drop the old one from the ISR only once that
//     one reported having applied the change or every lease it held has ended
//     (mayStillLead, checkNewISR);
//   - a broker whose metadata lags its CatchUpOffset (the latest record that took a
//     leadership from it) gets no lease from a heartbeat (heartbeat), so a deposed
//     leader that does not apply the change loses its lease and then its ISR place,
//     rather than holding its successor back forever.
//
// The last two back each other up (a new leader drops a member only after
// replica.lag.time.max, by when a lease the broker could not renew has ended), which is
// why the simulator proves the first with a plant (handoff-skipped) and the controller's
// tests prove the other two (TestDeposedLeaderHeldUntilApplied,
// TestDeposedLeaderDroppedAfterLease).
//
// An unclean election (ElectionType 1) is never made: a partition with a leader is
// answered ELECTION_NOT_NEEDED, as in Kafka, and one without is refused with
// ELIGIBLE_LEADERS_NOT_AVAILABLE, since a leaderless partition has no eligible ISR
// member (planChange would have elected it) and a replica outside the ISR may lack
// acknowledged records.

// partitionsListedMax bounds the partitions one ElectLeaders may name: each gets an
// item of the answer.
const partitionsListedMax = 100_000

// Error codes of ElectLeaders.
const (
	errPreferredLeaderNotAvailable int16 = 80
	errEligibleLeadersNotAvailable int16 = 83
	errElectionNotNeeded           int16 = 84
)

func (c *Controller) electLeaders(p Proposer, m *kmsg.ElectLeadersRequest) kmsg.Response {
	resp := kmsg.NewPtrElectLeadersResponse()
	resp.Version = m.Version
	if m.ElectionType != 0 && m.ElectionType != 1 {
		resp.ErrorCode = errInvalidRequest
		return resp
	}
	unclean := m.ElectionType == 1
	type item struct {
		topic     string
		partition int32
		out       outcome
		change    int // index in changes, or -1
	}
	var items []item
	var changes []metadata.Record
	add := func(topic string, partition int32, out outcome, pc *metadata.PartitionChange) {
		it := item{topic: topic, partition: partition, out: out, change: -1}
		switch {
		case pc != nil && len(changes) == RequestRecordsMax:
			it.out = fail(errThrottlingQuotaExceeded, "request proposes too many records; retry the rest")
		case pc != nil:
			it.change = len(changes)
			changes = append(changes, *pc)
		}
		items = append(items, it)
	}
	if listedPartitions(m.Topics, func(t kmsg.ElectLeadersRequestTopic) int { return len(t.Partitions) }) > partitionsListedMax {
		// Every listed partition gets an answer: bound the work before doing it.
		resp.ErrorCode = errInvalidRequest
		return resp
	}
	if m.Topics == nil {
		// Every partition; as in Kafka, those that need no election are left out.
		for _, t := range c.pending.Topics() {
			for _, ps := range c.pending.Partitions(t.ID) {
				if pc, out := c.election(ps, unclean); out.code != errElectionNotNeeded {
					add(t.Name, ps.Partition, out, pc)
				}
			}
		}
	} else {
		seen := map[metadata.TopicPartition]bool{}
		for _, t := range m.Topics {
			info, found := c.pending.Topic(t.Topic)
			for _, part := range t.Partitions {
				tp := metadata.TopicPartition{TopicID: info.ID, Partition: part}
				ps, exists := c.pending.Partition(info.ID, part)
				switch {
				case !found || !exists:
					add(t.Topic, part, fail(errUnknownTopicOrPartition, ""), nil)
				case seen[tp]:
					add(t.Topic, part, fail(errInvalidRequest, "partition listed more than once"), nil)
				default:
					pc, out := c.election(ps, unclean)
					add(t.Topic, part, out, pc)
				}
				seen[tp] = true
			}
		}
	}
	failedFrom, failure := c.proposeChunks(p, changes)
	for _, it := range items {
		if it.change >= failedFrom {
			it.out = failure
		}
		if n := len(resp.Topics); n == 0 || resp.Topics[n-1].Topic != it.topic {
			rt := kmsg.NewElectLeadersResponseTopic()
			rt.Topic = it.topic
			resp.Topics = append(resp.Topics, rt)
		}
		rp := kmsg.NewElectLeadersResponseTopicPartition()
		rp.Partition, rp.ErrorCode, rp.ErrorMessage = it.partition, it.out.code, it.out.message()
		rt := &resp.Topics[len(resp.Topics)-1]
		rt.Partitions = append(rt.Partitions, rp)
	}
	return resp
}

// listedPartitions counts the partitions a request's topics list.
func listedPartitions[T any](topics []T, count func(T) int) int {
	n := 0
	for _, t := range topics {
		n += count(t)
	}
	return n
}

// proposeChunks proposes recs in proposals of at most proposalMax records. A proposal
// the quorum refuses stops there: it returns the index of its first record and why
// (len(recs) and success when all were proposed); the caller fails those records'
// items.
func (c *Controller) proposeChunks(p Proposer, recs []metadata.Record) (int, outcome) {
	for from := 0; from < len(recs); from += c.proposalMax {
		to := min(from+c.proposalMax, len(recs))
		if out := proposeOutcome(c.propose(p, recs[from:to])); out.failed() {
			return from, out
		}
	}
	return len(recs), ok()
}

// election decides one partition's election: the change to propose, or why there is
// none.
func (c *Controller) election(ps metadata.PartitionState, unclean bool) (*metadata.PartitionChange, outcome) {
	if unclean {
		if ps.Leader != metadata.NoLeader {
			return nil, fail(errElectionNotNeeded, "")
		}
		return nil, fail(errEligibleLeadersNotAvailable,
			"seedlog elects only from the ISR: no ISR member is eligible, and a replica outside it may lack acknowledged records")
	}
	return c.preferredChange(ps)
}

// preferredChange moves a partition's leadership to its preferred replica, when that
// replica is in the ISR and eligible.
func (c *Controller) preferredChange(ps metadata.PartitionState) (*metadata.PartitionChange, outcome) {
	if len(ps.Replicas) == 0 {
		return nil, fail(errPreferredLeaderNotAvailable, "no replicas")
	}
	want := ps.Replicas[0]
	switch {
	case ps.Leader == want:
		return nil, fail(errElectionNotNeeded, "")
	case c.leaving(want):
		return nil, fail(errPreferredLeaderNotAvailable, fmt.Sprintf("broker %d is fenced or shutting down", want))
	case !slices.Contains(ps.ISR, want) && !c.cfg.Plants.On(plant.PreferredOutsideISR):
		return nil, fail(errPreferredLeaderNotAvailable, fmt.Sprintf("broker %d is not in the ISR %v", want, ps.ISR))
	}
	pc := metadata.PartitionChange{TopicID: ps.TopicID, Partition: ps.Partition, Leader: want}
	if !slices.Contains(ps.ISR, want) {
		pc.ISR = append(slices.Clone(ps.ISR), want) // the plant: a leader outside its ISR
	}
	return &pc, ok()
}

// rebalanceLeaders is auto.leader.rebalance.enable's periodic check (Kafka's): for each
// eligible broker, the share of the partitions it prefers that it does not lead; past
// LeaderImbalancePercent, those partitions hold preferred elections.
func (c *Controller) rebalanceLeaders(p Proposer) {
	type share struct{ preferred, notLed int }
	shares := map[int32]*share{}
	var candidates []metadata.PartitionState
	for _, t := range c.pending.Topics() {
		for _, ps := range c.pending.Partitions(t.ID) {
			if len(ps.Replicas) == 0 {
				continue
			}
			want := ps.Replicas[0]
			s := shares[want]
			if s == nil {
				s = &share{}
				shares[want] = s
			}
			s.preferred++
			if ps.Leader != want {
				s.notLed++
				candidates = append(candidates, ps)
			}
		}
	}
	var recs []metadata.Record
	for _, ps := range candidates {
		s := shares[ps.Replicas[0]]
		if s.notLed*100 <= c.cfg.LeaderImbalancePercent*s.preferred {
			continue
		}
		if pc, out := c.preferredChange(ps); !out.failed() {
			recs = append(recs, *pc)
			if len(recs) == c.proposalMax {
				break // the rest at the next check
			}
		}
	}
	if len(recs) == 0 {
		return
	}
	if c.propose(p, recs) != nil {
		c.rebalanceAt = c.now + int64(proposeRetry)
		return
	}
	c.rebalanced += len(recs)
}

// TakeRebalanced returns how many leaderships the leader rebalance moved since the last
// call.
func (c *Controller) TakeRebalanced() int {
	n := c.rebalanced
	c.rebalanced = 0
	return n
}

// mayStillLead reports whether broker id may still lead a partition whose leadership a
// record took from it: unfenced, not known to have applied its CatchUpOffset, and a
// lease it was granted may still run.
func (c *Controller) mayStillLead(id int32) bool {
	b, ok := c.pending.Broker(id)
	return ok && !b.Fenced && c.reported[id] < b.CatchUpOffset && c.now < c.leaseGoneAt(id)
}
