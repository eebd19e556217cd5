package group

import (
	"bytes"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// joinArgs is a JoinGroup request, checked and copied out of the request's buffers.
// joinSkipAssignmentVersion is the first JoinGroup version with SkipAssignment.
const joinSkipAssignmentVersion = 9

type joinArgs struct {
	version          int16
	memberID         string
	instanceID       *string
	clientID         string
	clientHost       string
	sessionTimeout   int64
	rebalanceTimeout int64
	protocolType     string
	protocols        []protocol
}

// JoinGroup handles a JoinGroup request from a client (clientID and clientHost name it in
// DescribeGroups). reply runs once: at once for errors, or when the join phase completes.
func (c *Coordinator) JoinGroup(now int64, req *kmsg.JoinGroupRequest, clientID, clientHost string, reply func(*kmsg.JoinGroupResponse)) {
	now = c.enter(now)
	defer c.leave()
	reply = deferred(c, reply)
	respond := func(resp *kmsg.JoinGroupResponse) {
		resp.Version = req.Version
		reply(resp)
	}
	if code := c.Availability(); code != codeNone {
		respond(joinError(code, req.MemberID))
		return
	}
	a, code := c.joinArgs(req, clientID, clientHost)
	if code != codeNone {
		respond(joinError(code, req.MemberID))
		return
	}
	g := c.groups[req.Group]
	if g == nil {
		switch {
		case req.MemberID != "":
			respond(joinError(codeUnknownMemberID, req.MemberID))
			return
		case len(c.groups) >= c.cfg.GroupsMax:
			respond(joinError(codeCoordinatorNotAvailable, req.MemberID))
			return
		}
		g = newGroup(req.Group)
		c.groups[req.Group] = g
	}
	c.join(now, g, a, respond)
	c.dropIfVacant(g)
}

// joinArgs checks what can be checked without the group and copies the request.
func (c *Coordinator) joinArgs(req *kmsg.JoinGroupRequest, clientID, clientHost string) (joinArgs, int16) {
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	switch {
	case req.Group == "":
		return joinArgs{}, codeInvalidGroupID
	case session < c.cfg.SessionTimeoutMin || session > c.cfg.SessionTimeoutMax:
		return joinArgs{}, codeInvalidSessionTimeout
	case req.ProtocolType == "" || len(req.Protocols) == 0:
		return joinArgs{}, codeInconsistentGroupProtocol
	case len(req.Protocols) > c.cfg.ProtocolsMax:
		return joinArgs{}, codeInvalidRequest
	}
	rebalance := time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	if req.Version == 0 || rebalance <= 0 {
		rebalance = session // v0 has no rebalance timeout: Kafka uses the session timeout
	}
	a := joinArgs{
		version:          req.Version,
		memberID:         req.MemberID,
		clientID:         clientID,
		clientHost:       clientHost,
		sessionTimeout:   int64(session),
		rebalanceTimeout: int64(rebalance),
		protocolType:     req.ProtocolType,
	}
	if req.Version >= 5 && req.InstanceID != nil {
		id := *req.InstanceID
		a.instanceID = &id
	}
	for _, p := range req.Protocols {
		if len(p.Metadata) > c.cfg.MetadataBytesMax {
			return joinArgs{}, codeInvalidRequest
		}
		a.protocols = append(a.protocols, protocol{name: p.Name, metadata: bytes.Clone(p.Metadata)})
	}
	return a, codeNone
}

func (c *Coordinator) join(now int64, g *group, a joinArgs, respond func(*kmsg.JoinGroupResponse)) {
	except := a.memberID
	if a.instanceID != nil {
		if id, ok := g.instances[*a.instanceID]; ok {
			except = id
		}
	}
	switch {
	case g.state == stateDead:
		respond(joinError(codeCoordinatorNotAvailable, a.memberID))
	case !g.supportsProtocols(except, a.protocolType, a.protocols):
		respond(joinError(codeInconsistentGroupProtocol, a.memberID))
	case a.memberID == "":
		c.joinUnknown(now, g, a, respond)
	default:
		c.joinKnown(now, g, a, respond)
	}
}

// joinUnknown handles a join without a member id: a static member takes over its
// instance's slot; a new static member joins at once; a new dynamic member is given an id
// to join with (v4+, KIP-394), or joins at once on older versions.
func (c *Coordinator) joinUnknown(now int64, g *group, a joinArgs, respond func(*kmsg.JoinGroupResponse)) {
	if a.instanceID != nil {
		if oldID, ok := g.instances[*a.instanceID]; ok {
			c.replaceStatic(now, g, g.members[oldID], a, respond)
			return
		}
	}
	if len(g.members) >= c.cfg.MembersMax {
		respond(joinError(codeGroupMaxSizeReached, a.memberID))
		return
	}
	if a.instanceID != nil {
		c.addMemberAndRebalance(now, g, c.newMemberID(g, *a.instanceID), a, respond)
		return
	}
	id := c.newMemberID(g, a.clientID)
	if a.version < 4 {
		c.addMemberAndRebalance(now, g, id, a, respond)
		return
	}
	if len(g.pending) >= c.cfg.MembersMax {
		respond(joinError(codeGroupMaxSizeReached, a.memberID))
		return
	}
	g.pending[id] = now + a.sessionTimeout
	respond(joinError(codeMemberIDRequired, id))
}

// joinKnown handles a join with a member id: one handed out with MEMBER_ID_REQUIRED, or
// a current member's. A current member's join rebalances unless it repeats what the
// group already agreed on (a lost JoinGroup response, or a follower rejoining a Stable
// group with unchanged metadata).
func (c *Coordinator) joinKnown(now int64, g *group, a joinArgs, respond func(*kmsg.JoinGroupResponse)) {
	if _, ok := g.pending[a.memberID]; ok && a.instanceID == nil {
		delete(g.pending, a.memberID)
		if len(g.members) >= c.cfg.MembersMax {
			respond(joinError(codeGroupMaxSizeReached, a.memberID))
			c.tryCompleteJoin(g)
			return
		}
		c.addMemberAndRebalance(now, g, a.memberID, a, respond)
		return
	}
	if code := g.validateMember(a.memberID, a.instanceID); code != codeNone {
		respond(joinError(code, a.memberID))
		return
	}
	m := g.members[a.memberID]
	m.sessionFrom = now
	unchanged := protocolsEqual(m.protocols, a.protocols)
	switch {
	case g.state == statePreparingRebalance:
		c.updateMember(m, a, respond)
		c.tryCompleteJoin(g)
	case g.state == stateCompletingRebalance && unchanged,
		g.state == stateStable && unchanged && m.id != g.leader:
		respond(c.joinResponse(g, m, g.leader))
	default:
		// A leader's rejoin in a Stable group is how consumers ask for a new assignment
		// (for example after partitions were added), so it always rebalances.
		c.updateMember(m, a, respond)
		c.prepareRebalance(g)
	}
}

// updateMember takes a current member's new join; a join it still waits on is
// superseded.
func (c *Coordinator) updateMember(m *member, a joinArgs, respond func(*kmsg.JoinGroupResponse)) {
	if m.joinReply != nil {
		c.answerJoin(m, joinError(codeRebalanceInProgress, m.id))
	}
	m.setProtocols(a.protocols)
	m.sessionTimeout = a.sessionTimeout
	m.rebalanceTimeout = a.rebalanceTimeout
	m.joinReply = respond
}

func (c *Coordinator) addMemberAndRebalance(now int64, g *group, id string, a joinArgs, respond func(*kmsg.JoinGroupResponse)) {
	m := &member{
		id:               id,
		instanceID:       a.instanceID,
		clientID:         a.clientID,
		clientHost:       a.clientHost,
		sessionTimeout:   a.sessionTimeout,
		rebalanceTimeout: a.rebalanceTimeout,
		protocols:        a.protocols,
		sessionFrom:      now,
		joinReply:        respond,
	}
	g.addMember(m, a.protocolType)
	if g.state == statePreparingRebalance && g.initialDelay {
		g.newMemberAdded = true
	}
	c.maybePrepareRebalance(g)
}

// replaceStatic gives a static member's slot to a new incarnation of it: the old member
// id is fenced, its waiting requests answered FENCED_INSTANCE_ID. In a Stable group with
// unchanged metadata the member keeps its assignment without a rebalance, once the new
// member id is durable.
func (c *Coordinator) replaceStatic(now int64, g *group, old *member, a joinArgs, respond func(*kmsg.JoinGroupResponse)) {
	c.answerWaiting(old, codeFencedInstanceID)
	leaderBefore := g.leader
	unchanged := protocolsEqual(old.protocols, a.protocols)
	m := old
	g.renameMember(m, c.newMemberID(g, *a.instanceID))
	m.clientID, m.clientHost = a.clientID, a.clientHost
	m.sessionTimeout, m.rebalanceTimeout = a.sessionTimeout, a.rebalanceTimeout
	m.setProtocols(a.protocols)
	m.sessionFrom = now
	m.joinReply = respond
	switch g.state {
	case stateStable:
		if unchanged {
			c.persistReplacement(g, m, leaderBefore, a.version)
			return
		}
		c.prepareRebalance(g)
	case stateCompletingRebalance:
		c.prepareRebalance(g)
	case statePreparingRebalance:
		c.tryCompleteJoin(g)
	}
}

// persistReplacement records a Stable group with a static member's new id, then answers
// its join with the current generation. A replaced leader must not run an assignment a
// Stable group would not hand out, yet must keep watching the group's metadata (no other
// member does): from JoinGroup v9 it is named leader with SkipAssignment set (KIP-814);
// before, the leader named is the old member id, which clients take as theirs by its
// instance prefix. If a rebalance starts meanwhile, its completion answers the join
// instead.
func (c *Coordinator) persistReplacement(g *group, m *member, leaderBefore string, version int16) {
	skip := version >= joinSkipAssignmentVersion && g.leader == m.id
	gen, id := g.generation, m.id
	c.append([]KV{c.groupRecord(g, nil)}, func(_ int64, err error) {
		// The member may have been replaced again (a later record carries its id), or a
		// rebalance may have taken over its join.
		current := c.groups[g.id] == g && g.members[id] == m
		if !current || m.joinReply == nil || g.state != stateStable || g.generation != gen {
			return
		}
		if err != nil {
			c.answerJoin(m, joinError(appendCode(err), m.id))
			return
		}
		if !skip {
			c.answerJoin(m, c.joinResponse(g, m, leaderBefore))
			return
		}
		resp := c.joinResponse(g, m, m.id)
		resp.SkipAssignment = true
		c.answerJoin(m, resp)
	}, nil)
}
