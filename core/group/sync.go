package group

import (
	"bytes"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// SyncGroup handles a SyncGroup request. The leader's carries the assignment of the
// generation; it is written to the log and handed out (to every member waiting and to
// later SyncGroups) only once durable. reply runs once: at once for errors and in a Stable
// group, otherwise when the assignment is durable or the generation is abandoned.
func (c *Coordinator) SyncGroup(now int64, req *kmsg.SyncGroupRequest, reply func(*kmsg.SyncGroupResponse)) {
	now = c.enter(now)
	defer c.leave()
	reply = deferred(c, reply)
	respond := func(resp *kmsg.SyncGroupResponse) {
		resp.Version = req.Version
		reply(resp)
	}
	g, code := c.checkSync(req)
	if code != codeNone {
		respond(syncError(code))
		return
	}
	m := g.members[req.MemberID]
	switch g.state {
	case statePreparingRebalance:
		respond(syncError(codeRebalanceInProgress))
	case stateStable:
		m.sessionFrom = now
		delete(g.pendingSync, m.id)
		respond(c.syncResponse(g, m.assignment))
	case stateCompletingRebalance:
		m.sessionFrom = now
		delete(g.pendingSync, m.id)
		if m.syncReply != nil {
			c.answerSync(m, syncError(codeRebalanceInProgress)) // superseded by this request
		}
		m.syncReply = respond
		if m.id == g.leader && g.persistID == 0 {
			c.persistAssignment(g, req.GroupAssignment)
		}
	default:
		respond(syncError(codeUnknownMemberID))
	}
}

// checkSync finds the group and checks the member, its generation and the protocol.
func (c *Coordinator) checkSync(req *kmsg.SyncGroupRequest) (*group, int16) {
	if code := c.Availability(); code != codeNone {
		return nil, code
	}
	if req.Group == "" {
		return nil, codeInvalidGroupID
	}
	g := c.groups[req.Group]
	switch {
	case g == nil:
		return nil, codeUnknownMemberID
	case g.state == stateDead:
		return nil, codeCoordinatorNotAvailable
	}
	var instanceID *string
	if req.Version >= 3 {
		instanceID = req.InstanceID
	}
	if code := g.validateMember(req.MemberID, instanceID); code != codeNone {
		return nil, code
	}
	switch {
	case req.Generation != g.generation:
		return nil, codeIllegalGeneration
	case req.ProtocolType != nil && *req.ProtocolType != g.protocolType,
		req.Protocol != nil && *req.Protocol != g.protocol:
		return nil, codeInconsistentGroupProtocol
	}
	return g, codeNone
}

func (c *Coordinator) syncResponse(g *group, assignment []byte) *kmsg.SyncGroupResponse {
	resp := kmsg.NewPtrSyncGroupResponse()
	resp.ProtocolType = kmsg.StringPtr(g.protocolType)
	resp.Protocol = kmsg.StringPtr(g.protocol)
	resp.MemberAssignment = assignment
	return resp
}

// persistAssignment writes the leader's assignment (members it left out get an empty
// one) and, once it is durable, makes the group Stable and answers every waiting member.
// If the append fails they are told why and the group rebalances.
func (c *Coordinator) persistAssignment(g *group, given []kmsg.SyncGroupRequestGroupAssignment) {
	leader := g.members[g.leader]
	assignments := make(map[string][]byte, len(g.members))
	for id := range g.members {
		assignments[id] = []byte{}
	}
	for _, a := range given {
		if _, ok := assignments[a.MemberID]; !ok {
			continue
		}
		if len(a.MemberAssignment) > c.cfg.MetadataBytesMax {
			c.answerSync(leader, syncError(codeInvalidRequest))
			c.prepareRebalance(g) // the others would wait for an assignment that never comes
			return
		}
		assignments[a.MemberID] = bytes.Clone(a.MemberAssignment)
	}
	c.nextOpID++ // persist ids share the append id space, so they never repeat
	id := c.nextOpID
	g.persistID = id
	c.append([]KV{c.groupRecord(g, assignments)}, func(_ int64, err error) {
		if c.groups[g.id] != g || g.persistID != id {
			return // the generation was abandoned; its waiters were answered then
		}
		g.persistID = 0
		if err != nil {
			c.failAssignment(g, appendCode(err))
			return
		}
		c.completeSync(g, assignments)
	}, nil)
}

// completeSync hands out a durable assignment.
func (c *Coordinator) completeSync(g *group, assignments map[string][]byte) {
	g.state = stateStable
	for _, id := range g.memberIDs() {
		m := g.members[id]
		m.assignment = assignments[id]
		if m.syncReply != nil {
			c.answerSync(m, c.syncResponse(g, m.assignment))
		}
	}
}

// failAssignment answers the waiting members with code and starts over.
func (c *Coordinator) failAssignment(g *group, code int16) {
	for _, id := range g.memberIDs() {
		m := g.members[id]
		if m.syncReply != nil {
			c.answerSync(m, syncError(code))
		}
	}
	c.prepareRebalance(g)
}
