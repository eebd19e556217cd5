package group

import "github.com/twmb/franz-go/pkg/kmsg"

// Heartbeat keeps a member's session alive. While a rebalance is in its join phase it
// answers REBALANCE_IN_PROGRESS, which is how members learn they must rejoin.
func (c *Coordinator) Heartbeat(now int64, req *kmsg.HeartbeatRequest, reply func(*kmsg.HeartbeatResponse)) {
	now = c.enter(now)
	defer c.leave()
	reply = deferred(c, reply)
	resp := kmsg.NewPtrHeartbeatResponse()
	resp.Version = req.Version
	resp.ErrorCode = c.heartbeat(now, req)
	reply(resp)
}

func (c *Coordinator) heartbeat(now int64, req *kmsg.HeartbeatRequest) int16 {
	if code := c.Availability(); code != codeNone {
		return code
	}
	if req.Group == "" {
		return codeInvalidGroupID
	}
	g := c.groups[req.Group]
	switch {
	case g == nil:
		return codeUnknownMemberID
	case g.state == stateDead:
		return codeCoordinatorNotAvailable
	}
	var instanceID *string
	if req.Version >= 3 {
		instanceID = req.InstanceID
	}
	if code := g.validateMember(req.MemberID, instanceID); code != codeNone {
		return code
	}
	if req.Generation != g.generation {
		return codeIllegalGeneration
	}
	g.members[req.MemberID].sessionFrom = now
	if g.state == statePreparingRebalance {
		return codeRebalanceInProgress
	}
	return codeNone
}

// LeaveGroup removes members (v3+: a batch, each by member id or by group.instance.id
// alone) and rebalances the group.
func (c *Coordinator) LeaveGroup(now int64, req *kmsg.LeaveGroupRequest, reply func(*kmsg.LeaveGroupResponse)) {
	c.enter(now)
	defer c.leave()
	reply = deferred(c, reply)
	resp := kmsg.NewPtrLeaveGroupResponse()
	resp.Version = req.Version
	leaving := req.Members
	if req.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	resp.ErrorCode = c.leaveCode(req)
	if resp.ErrorCode == codeNone {
		g := c.groups[req.Group]
		for _, l := range leaving {
			resp.Members = append(resp.Members, kmsg.LeaveGroupResponseMember{
				MemberID:   l.MemberID,
				InstanceID: l.InstanceID,
				ErrorCode:  c.leave1(g, l),
			})
		}
		if g != nil {
			c.dropIfVacant(g)
		}
	}
	if req.Version < 3 {
		// Before batching, the one member's outcome was the response's.
		if len(resp.Members) == 1 {
			resp.ErrorCode = resp.Members[0].ErrorCode
		}
		resp.Members = nil
	}
	reply(resp)
}

func (c *Coordinator) leaveCode(req *kmsg.LeaveGroupRequest) int16 {
	if code := c.Availability(); code != codeNone {
		return code
	}
	if req.Group == "" {
		return codeInvalidGroupID
	}
	if g := c.groups[req.Group]; g != nil && g.state == stateDead {
		return codeCoordinatorNotAvailable
	}
	return codeNone
}

// leave1 removes one leaving member of g (which may be nil: no such group).
func (c *Coordinator) leave1(g *group, l kmsg.LeaveGroupRequestMember) int16 {
	if g == nil {
		return codeUnknownMemberID
	}
	if l.MemberID == "" {
		// Removal by instance id alone, as administrators do it.
		if l.InstanceID == nil {
			return codeUnknownMemberID
		}
		id, ok := g.instances[*l.InstanceID]
		if !ok {
			return codeUnknownMemberID
		}
		c.removeMemberAndRebalance(g, g.members[id])
		return codeNone
	}
	if _, ok := g.pending[l.MemberID]; ok {
		delete(g.pending, l.MemberID)
		c.tryCompleteJoin(g)
		return codeNone
	}
	if code := g.validateMember(l.MemberID, l.InstanceID); code != codeNone {
		return code
	}
	c.removeMemberAndRebalance(g, g.members[l.MemberID])
	return codeNone
}
