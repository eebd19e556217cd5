package group

import (
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// maybePrepareRebalance starts a rebalance unless one is in its join phase, in which
// case the phase may now be complete.
func (c *Coordinator) maybePrepareRebalance(g *group) {
	switch g.state {
	case stateEmpty, stateStable, stateCompletingRebalance:
		c.prepareRebalance(g)
	case statePreparingRebalance:
		c.tryCompleteJoin(g)
	}
}

// prepareRebalance opens a join phase, which may complete at once. Members waiting for
// an assignment of the generation being abandoned are told to rejoin; an assignment
// still on its way to the log is disowned.
func (c *Coordinator) prepareRebalance(g *group) {
	if g.state == stateCompletingRebalance {
		for _, id := range g.memberIDs() {
			m := g.members[id]
			if m.syncReply != nil {
				c.answerSync(m, syncError(codeRebalanceInProgress))
			}
		}
	}
	wasEmpty := g.state == stateEmpty
	g.state = statePreparingRebalance
	g.persistID = 0
	g.pendingSync = nil
	g.rebalanceTimeout = g.rebalanceTimeoutMax()
	g.joinFrom = c.timeNow()
	g.initialDelay = wasEmpty && c.cfg.InitialRebalanceDelay > 0
	g.newMemberAdded = false
	if g.initialDelay {
		// A group starting from nothing waits a little for the rest of a burst of new
		// members, so they land in one generation instead of one each.
		g.joinDelay = min(int64(c.cfg.InitialRebalanceDelay), g.rebalanceTimeout)
		g.initialLeft = g.rebalanceTimeout - g.joinDelay
		return
	}
	g.joinDelay = g.rebalanceTimeout
	// Every member may already be waiting (a lone member rejoining, or the last one
	// leaving): then there is nothing to wait for.
	c.tryCompleteJoin(g)
}

// tryCompleteJoin ends the join phase early once every member has rejoined and no member
// id handed out is still expected. The initial delay always runs its course.
func (c *Coordinator) tryCompleteJoin(g *group) {
	if g.state != statePreparingRebalance || g.initialDelay || len(g.pending) > 0 {
		return
	}
	for _, m := range g.members {
		if m.joinReply == nil {
			return
		}
	}
	c.completeJoin(g)
}

// completeJoin ends the join phase: members that did not rejoin are removed, the
// generation advances, a protocol and a leader are chosen and every waiting join is
// answered, the leader's with every member's metadata.
func (c *Coordinator) completeJoin(g *group) {
	for _, id := range g.memberIDs() {
		if m := g.members[id]; m.joinReply == nil {
			g.removeMember(m)
		}
	}
	g.generation++
	g.initialDelay = false
	for _, m := range g.members {
		m.assignment = nil
	}
	if len(g.members) == 0 {
		g.state, g.protocol, g.leader = stateEmpty, "", ""
		g.emptySinceMs = millis(c.now)
		// The new generation is recorded even without members, so a coordinator that
		// takes over continues from it.
		c.persistGroupQuietly(g)
		return
	}
	g.protocol = g.selectProtocol()
	if g.members[g.leader] == nil {
		g.leader = g.firstJoined().id
	}
	g.state = stateCompletingRebalance
	g.syncFrom = c.timeNow()
	g.pendingSync = map[string]bool{}
	for _, id := range g.memberIDs() {
		g.pendingSync[id] = true
		m := g.members[id]
		c.answerJoin(m, c.joinResponse(g, m, g.leader))
	}
}

// joinResponse tells m the current generation. The leader (named leader, which a static
// member's replacement does not change) gets every member's metadata.
func (c *Coordinator) joinResponse(g *group, m *member, leader string) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Generation = g.generation
	resp.ProtocolType = kmsg.StringPtr(g.protocolType)
	resp.Protocol = kmsg.StringPtr(g.protocol)
	resp.LeaderID = leader
	resp.MemberID = m.id
	if m.id == leader {
		for _, o := range g.membersByJoin() {
			resp.Members = append(resp.Members, kmsg.JoinGroupResponseMember{
				MemberID:         o.id,
				InstanceID:       o.instanceID,
				ProtocolMetadata: o.metadataFor(g.protocol),
			})
		}
	}
	return resp
}

func joinError(code int16, memberID string) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.ErrorCode = code
	resp.Generation = -1
	resp.MemberID = memberID
	return resp
}

func syncError(code int16) *kmsg.SyncGroupResponse {
	resp := kmsg.NewPtrSyncGroupResponse()
	resp.ErrorCode = code
	return resp
}

// removeMemberAndRebalance takes m out of the group (it left, was fenced out or its
// session expired) and lets the group react.
func (c *Coordinator) removeMemberAndRebalance(g *group, m *member) {
	c.answerWaiting(m, codeUnknownMemberID)
	g.removeMember(m)
	switch g.state {
	case stateStable, stateCompletingRebalance:
		c.prepareRebalance(g)
	case statePreparingRebalance:
		c.tryCompleteJoin(g)
	}
}

// expirePending forgets member ids handed out with MEMBER_ID_REQUIRED that did not come
// back within their session timeout.
func (c *Coordinator) expirePending(now int64, g *group) {
	expired := false
	for _, id := range slices.Sorted(maps.Keys(g.pending)) {
		if now >= g.pending[id] {
			delete(g.pending, id)
			expired = true
		}
	}
	if expired {
		c.tryCompleteJoin(g)
	}
}

// expireSessions removes the members whose session ran out. A member waiting for a join
// or sync answer is not expected to heartbeat: the phase it waits on has its own bound.
func (c *Coordinator) expireSessions(now int64, g *group) {
	for _, id := range g.memberIDs() {
		m := g.members[id]
		if m != nil && !m.awaiting() && now >= m.sessionDeadline() {
			c.removeMemberAndRebalance(g, m)
		}
	}
}

// expireJoin ends a join phase whose time is up, or extends an initial delay that new
// members keep joining.
func (c *Coordinator) expireJoin(now int64, g *group) {
	if g.state != statePreparingRebalance || now < g.joinFrom+g.joinDelay {
		return
	}
	if g.initialDelay && g.newMemberAdded && g.initialLeft > 0 {
		g.joinFrom = now
		g.joinDelay = min(int64(c.cfg.InitialRebalanceDelay), g.initialLeft)
		g.initialLeft -= g.joinDelay
		g.newMemberAdded = false
		return
	}
	c.completeJoin(g)
}

// expireSync removes the members that were given a generation and did not ask for their
// assignment within the rebalance timeout (the leader among them, if it never assigned).
func (c *Coordinator) expireSync(now int64, g *group) {
	if g.state != stateCompletingRebalance && g.state != stateStable {
		return
	}
	if len(g.pendingSync) == 0 || now < g.syncFrom+g.rebalanceTimeout {
		return
	}
	late := slices.Sorted(maps.Keys(g.pendingSync))
	g.pendingSync = nil
	for _, id := range late {
		if m := g.members[id]; m != nil {
			c.removeMemberAndRebalance(g, m)
		}
	}
}
