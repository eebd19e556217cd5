package controller

import (
	"fmt"
	"slices"

	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fenceExpired fences every unfenced broker not heard from for a whole session, then
// moves leaderships and ISR memberships off them.
func (c *Controller) fenceExpired(p Proposer) {
	if c.now < c.retryAt {
		return
	}
	var recs []metadata.Record
	for _, id := range c.pending.BrokerIDs() {
		epoch, fenced, _ := c.pending.BrokerEpoch(id)
		if !fenced && c.now >= c.fenceAt(id) && len(recs) < c.proposalMax {
			recs = append(recs, metadata.FenceBroker{BrokerID: id, BrokerEpoch: epoch})
		}
	}
	if len(recs) == 0 {
		return
	}
	if c.propose(p, recs) != nil {
		c.retryAt = c.now + int64(proposeRetry)
		return
	}
	c.reconcile = true
	c.reconcileAll(p)
}

// leaving reports whether broker id may neither lead nor stay in an ISR with others:
// unregistered, fenced, or in controlled shutdown.
func (c *Controller) leaving(id int32) bool {
	return c.pending.IsFenced(id) || c.shuttingDown[id]
}

// reconcileAll proposes every partition change the rules call for (see planChange),
// in proposals of at most RecordsPerProposalMax, until none is left.
func (c *Controller) reconcileAll(p Proposer) {
	if c.now < c.retryAt {
		c.reconcile = true
		return
	}
	for {
		recs := c.planChanges(c.proposalMax)
		if len(recs) == 0 {
			c.reconcile = false
			return
		}
		if c.propose(p, recs) != nil {
			c.reconcile = true
			c.retryAt = c.now + int64(proposeRetry)
			return
		}
	}
}

// planChanges scans partitions in topic-name order and returns up to limit changes.
func (c *Controller) planChanges(limit int) []metadata.Record {
	var recs []metadata.Record
	for _, t := range c.pending.Topics() {
		for _, ps := range c.pending.Partitions(t.ID) {
			if pc, ok := planChange(ps, c.leaving); ok {
				recs = append(recs, pc)
				if len(recs) == limit {
					return recs
				}
			}
		}
	}
	return recs
}

// planChange applies the leadership rules to one partition:
//   - leaving brokers (fenced or shutting down) leave the ISR where others remain
//     (KIP-841); when none would remain, the ISR keeps the current leader, or stays as
//     it is when the partition has no leader;
//   - a leaving leader, or no leader, is replaced by the first replica (in replica
//     order) that is in the ISR and not leaving, or by no leader when there is none:
//     never a replica outside the ISR (no unclean election).
func planChange(ps metadata.PartitionState, leaving func(int32) bool) (metadata.PartitionChange, bool) {
	isr := slices.DeleteFunc(slices.Clone(ps.ISR), leaving)
	if len(isr) == 0 {
		isr = ps.ISR
		if ps.Leader != metadata.NoLeader && slices.Contains(ps.ISR, ps.Leader) {
			isr = []int32{ps.Leader}
		}
	}
	leader := ps.Leader
	if leader == metadata.NoLeader || leaving(leader) {
		leader = metadata.NoLeader
		for _, r := range ps.Replicas {
			if slices.Contains(isr, r) && !leaving(r) {
				leader = r
				break
			}
		}
	}
	isrChanged := !slices.Equal(isr, ps.ISR)
	if !isrChanged && leader == ps.Leader {
		return metadata.PartitionChange{}, false
	}
	pc := metadata.PartitionChange{TopicID: ps.TopicID, Partition: ps.Partition, Leader: metadata.LeaderUnchanged}
	if isrChanged {
		pc.ISR = isr
	}
	if leader != ps.Leader {
		pc.Leader = leader
	}
	return pc, true
}

func (c *Controller) register(p Proposer, from int32, m *kmsg.BrokerRegistrationRequest) kmsg.Response {
	resp := kmsg.NewPtrBrokerRegistrationResponse()
	resp.Version = m.Version
	resp.BrokerEpoch = -1
	out, epoch := c.registerOutcome(p, from, m)
	resp.ErrorCode, resp.BrokerEpoch = out.code, epoch
	return resp
}

func (c *Controller) registerOutcome(p Proposer, from int32, m *kmsg.BrokerRegistrationRequest) (outcome, int64) {
	if from != m.BrokerID {
		return fail(errClusterAuthorizationFailed, ""), -1
	}
	old, exists := c.pending.Broker(m.BrokerID)
	switch {
	case exists && old.Incarnation == m.IncarnationID:
		c.lastHeard[m.BrokerID] = c.now
		return ok(), old.Epoch
	case exists && !old.Fenced && c.now < c.leaseGoneAt(m.BrokerID) && !c.cfg.Plants.On(plant.ReregisterIgnoresLease):
		// fenceExpired ran first, so an unfenced registration has a live session, and
		// the old incarnation may still hold a lease: it may still lead.
		return fail(errDuplicateBrokerRegistration, ""), -1
	case exists && !old.Fenced:
		// A new incarnation (the broker restarted after a crash) while the old one's
		// session is still open, but every lease the old one got has ended: fence it now
		// rather than at the end of its session, so that its leaderships move.
		if err := c.propose(p, []metadata.Record{metadata.FenceBroker{BrokerID: old.ID, BrokerEpoch: old.Epoch}}); err != nil {
			return proposeOutcome(err), -1
		}
		c.reconcile = true
		defer c.reconcileAll(p)
	case !exists && len(c.pending.BrokerIDs()) >= BrokersMax:
		return fail(errInvalidRegistration, fmt.Sprintf("more than %d brokers", BrokersMax)), -1
	}
	rec := registration(m)
	if err := metadata.Validate(c.pending, rec); err != nil {
		return fail(errInvalidRegistration, err.Error()), -1
	}
	if err := c.propose(p, []metadata.Record{rec}); err != nil {
		return proposeOutcome(err), -1
	}
	b, _ := c.pending.Broker(m.BrokerID)
	c.lastHeard[m.BrokerID] = c.now
	delete(c.shuttingDown, m.BrokerID)
	return ok(), b.Epoch
}

func registration(m *kmsg.BrokerRegistrationRequest) metadata.RegisterBroker {
	rec := metadata.RegisterBroker{BrokerID: m.BrokerID, Incarnation: m.IncarnationID}
	for _, l := range m.Listeners {
		rec.Listeners = append(rec.Listeners, metadata.Listener{Name: l.Name, Host: l.Host, Port: int32(l.Port)})
	}
	if m.Rack != nil {
		rec.Rack = *m.Rack
	}
	return rec
}

func (c *Controller) heartbeat(p Proposer, from int32, m *kmsg.BrokerHeartbeatRequest) kmsg.Response {
	resp := kmsg.NewPtrBrokerHeartbeatResponse()
	resp.Version = m.Version
	resp.IsFenced = true
	if from != m.BrokerID {
		resp.ErrorCode = errClusterAuthorizationFailed
		return resp
	}
	b, exists := c.pending.Broker(m.BrokerID)
	switch {
	case !exists:
		resp.ErrorCode = errBrokerIDNotRegistered
		return resp
	case b.Epoch != m.BrokerEpoch:
		resp.ErrorCode = errStaleBrokerEpoch
		return resp
	}
	c.lastHeard[b.ID] = c.now
	if m.WantShutdown {
		c.shuttingDown[b.ID] = true
	}
	if out := c.heartbeatTransition(p, b, m); out.failed() {
		resp.ErrorCode = out.code
		return resp
	}
	b, _ = c.pending.Broker(b.ID)
	c.reported[b.ID] = max(c.reported[b.ID], m.CurrentMetadataOffset)
	if !b.Fenced && m.CurrentMetadataOffset < c.pending.AclChangedAt() && !c.cfg.Plants.On(plant.AclAckEarly) {
		// No lease for a broker that could still authorize with bindings an ACL change
		// replaced (acls.go); its next heartbeat, once it applied the change, gets one.
		resp.ErrorCode = errMetadataBehind
		return resp
	}
	if !b.Fenced && !c.shuttingDown[b.ID] && m.CurrentMetadataOffset < b.CatchUpOffset {
		// A preferred election took a leadership from this live broker (elect.go): no
		// lease until it has applied that, and so stopped leading there.
		resp.ErrorCode = errMetadataBehind
		return resp
	}
	resp.IsCaughtUp = m.CurrentMetadataOffset >= b.CatchUpOffset
	resp.IsFenced = b.Fenced
	resp.ShouldShutdown = c.shuttingDown[b.ID] && len(c.pending.PartitionsLedBy(b.ID)) == 0
	return resp
}

// heartbeatTransition moves a broker between fenced and unfenced as its heartbeat asks.
func (c *Controller) heartbeatTransition(p Proposer, b metadata.Broker, m *kmsg.BrokerHeartbeatRequest) outcome {
	fence := []metadata.Record{metadata.FenceBroker{BrokerID: b.ID, BrokerEpoch: b.Epoch}}
	switch {
	case c.shuttingDown[b.ID]:
		// Controlled shutdown: the broker stopped leading before asking. Move its
		// leaderships now; once it leads nothing, fence it so it can go.
		c.reconcileAll(p)
		if b.Fenced || len(c.pending.PartitionsLedBy(b.ID)) > 0 {
			return ok()
		}
		return proposeOutcome(c.propose(p, fence))
	case m.WantFence && !b.Fenced:
		if err := c.propose(p, fence); err != nil {
			return proposeOutcome(err)
		}
		c.reconcileAll(p)
	case !m.WantFence && b.Fenced && m.CurrentMetadataOffset >= b.CatchUpOffset:
		unfence := metadata.UnfenceBroker{BrokerID: b.ID, BrokerEpoch: b.Epoch}
		if err := c.propose(p, []metadata.Record{unfence}); err != nil {
			return proposeOutcome(err)
		}
		c.reconcileAll(p) // leaderless partitions with this broker in their ISR elect it
	}
	return ok()
}
