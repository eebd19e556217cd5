package sim

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Consumer group members speak Kafka's classic group protocol as real consumers do:
// FindCoordinator; JoinGroup with the member id round trip of KIP-394 (the first join
// carries no member id and is answered MEMBER_ID_REQUIRED with one); SyncGroup, where
// the leader sends the assignment its assignor (range or round-robin) computed from the
// members' subscriptions and its metadata; Heartbeat; OffsetFetch to resume where the
// group left off; fetch, process and OffsetCommit after processing; LeaveGroup now and
// then; static membership (group.instance.id) for some groups. A member rejoins on
// REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION and UNKNOWN_MEMBER_ID (forgetting its id for
// the last), and the leader rejoins when a subscribed topic gained partitions.
//
// The leader watches the metadata on its own timer, as clients refresh metadata apart
// from their poll loop: a member stuck retrying a commit or waiting on a slow fetch
// still notices new partitions. Leadership follows what franz-go makes of JoinGroup:
// the member named leader leads; at version 9, SkipAssignment (KIP-814) says a static
// leader that rejoined a Stable group leads without sending an assignment (it computes
// one anyway and rejoins when the old one it is handed differs); before version 9 a
// static member whose instance id prefixes the leader id knows it replaced the leader
// and watches the metadata without an assignment to compute. Without that, a group
// whose static leader restarted would never notice new partitions.
//
// Commits run beside the membership: a commit that must be retried (the coordinator
// moved, a timeout) is retried with the generation it started with, even while the
// member rejoins, as franz-go's do. The coordinator must refuse it once the group moved
// on; a coordinator that accepted it would be caught (stale-commit check).

// Group timing, where GroupSpec sets none. Kafka's coordinator refuses sessions below
// 6 s (group.min.session.timeout.ms).
const (
	memberSessionTimeout   = 6 * time.Second
	memberRebalanceTimeout = 10 * time.Second
	memberHeartbeat        = 2 * time.Second
	// leaderMetadataEvery is how often the group leader looks for new partitions.
	leaderMetadataEvery = 2 * time.Second
	// joinGroupSkipAssignmentVersion is the first JoinGroup version with SkipAssignment.
	joinGroupSkipAssignmentVersion = 9
)

// sessionTimeout is the members' session.timeout.ms.
func (g GroupSpec) sessionTimeout() time.Duration {
	if g.SessionTimeout > 0 {
		return g.SessionTimeout
	}
	return memberSessionTimeout
}

// heartbeatInterval is the members' heartbeat.interval.ms.
func (g GroupSpec) heartbeatInterval() time.Duration {
	if g.HeartbeatInterval > 0 {
		return g.HeartbeatInterval
	}
	return memberHeartbeat
}

type memberState uint8

const (
	memberJoining memberState = iota + 1
	memberStable
	memberLeft
)

// groupRun is one consumer group: its members and what the checkers learn from them.
type groupRun struct {
	w       *World
	spec    GroupSpec
	members []*member
	// views holds, per generation, what each owner (instance id, or member id) was
	// assigned, as SyncGroup answers told the members.
	views map[int32]map[string][]TopicPartition
	// syncs are the SyncGroup successes: when each completed and its generation.
	syncs []syncMark
	// processed holds, per partition, the offset ranges the members processed, merged.
	processed map[TopicPartition][]span
	// marks are the members' requests the coordinator accepted (offsetlife.go).
	marks []memberMark
}

type syncMark struct {
	at         int64
	generation int32
	op         int
}

// span is a half-open offset range [from, to).
type span struct{ from, to int64 }

// member is one group member.
type member struct {
	g        *groupRun
	c        *Client
	instance string // group.instance.id, "" for a dynamic member
	memberID string
	gen      int32
	leaderID string
	protocol string
	state    memberState
	coord    int32
	// round grows at every (re)join; callbacks of an older round stop.
	round    uint64
	assigned []TopicPartition
	// leading is set while the member leads its generation and watches the metadata.
	leading bool
	// counts are the partition counts the group's assignment used, as far as the leader
	// can tell: the fewest of every plan it sent in generation countsGen (see lead).
	counts    map[string]int32
	countsGen int32
	// expected is what a leader told to skip the assignment computed for itself: a
	// different assignment handed back means the group's is stale.
	expected []TopicPartition
	skipped  bool
	pos      map[TopicPartition]int64
	next     int
	joinOp   *Op
	// begun is set once the member started (its first join).
	begun bool
	// ctp makes the member a consume-transform-produce worker (ctp.go), which polls
	// and commits in transactions.
	ctp *ctpWorker
}

func (w *World) startGroup(spec GroupSpec) *groupRun {
	g := &groupRun{w: w, spec: spec, views: map[int32]map[string][]TopicPartition{}, processed: map[TopicPartition][]span{}}
	for i := range spec.Members {
		c := w.addClient(roleMember)
		if w.cfg.Data.ReadCommittedGroups {
			c.isolation = 1
		}
		m := &member{g: g, c: c, coord: -1, gen: -1, countsGen: -1}
		if spec.Static {
			m.instance = fmt.Sprintf("%s-i%d", spec.Name, i)
		}
		c.desc = fmt.Sprintf("member %d of group %s", i, spec.Name)
		c.onStep = m.step
		g.members = append(g.members, m)
		// Members start spread over the first second, as processes do (after StartDelay).
		c.later(spec.StartDelay+time.Duration(c.rng.Int64N(int64(time.Second))), m.turn)
	}
	return g
}

// started reports whether any member of the group started: a schedule may start none.
func (g *groupRun) started() bool {
	return slices.ContainsFunc(g.members, func(m *member) bool { return m.begun })
}

// turn is the member's drawn start, which a schedule may take or leave.
func (m *member) turn() {
	if s := m.c.w.script; s != nil && s.turn(m.c, StepJoin) == nil {
		return
	}
	m.start()
}

// step starts a scheduled member.
func (m *member) step(st *Step) string {
	if m.begun {
		return "the member started already"
	}
	m.start()
	return ""
}

func (m *member) start() {
	m.begun = true
	m.c.w.recordStep(Step{Kind: StepJoin, Client: m.c.id, Group: m.g.spec.Name})
	m.round++
	m.find(m.round, m.join)
}

func (m *member) active(round uint64) bool {
	return m.round == round && m.c.w.failure == nil && m.c.w.phase != phaseEnd
}

// retry runs fn after a backoff if the round is still current.
func (m *member) retry(round uint64, fn func()) {
	m.c.later(dataBackoff*2, func() {
		if m.active(round) {
			fn()
		}
	})
}

// find locates the group's coordinator, then calls then.
func (m *member) find(round uint64, then func()) {
	c := m.c
	w := c.w
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = m.g.spec.Name
	req.CoordinatorKeys = []string{m.g.spec.Name}
	c.send(c.randomBroker(), req, w.requestTimeout(), func(resp kmsg.Response, err error) {
		if !m.active(round) {
			return
		}
		if err != nil {
			m.retry(round, func() { m.find(round, then) })
			return
		}
		r := resp.(*kmsg.FindCoordinatorResponse)
		code, node := r.ErrorCode, r.NodeID
		if r.GetVersion() >= 4 {
			code, node = errInvalidRequest, -1
			if len(r.Coordinators) == 1 {
				code, node = r.Coordinators[0].ErrorCode, r.Coordinators[0].NodeID
			}
		}
		if code != errNone || w.node(node) == nil {
			w.cov.Inc("group:find-retry")
			m.retry(round, func() { m.find(round, then) })
			return
		}
		m.coord = node
		then()
	})
}

// lost handles an answer saying the coordinator moved: find it again, then go on.
func (m *member) lost(round uint64, then func()) {
	m.coord = -1
	m.retry(round, func() { m.find(round, then) })
}

func (m *member) instancePtr() *string {
	if m.instance == "" {
		return nil
	}
	return kmsg.StringPtr(m.instance)
}

// staticLo is the lowest version of key that carries a group.instance.id.
func (m *member) staticLo(key int16) int16 {
	if m.instance == "" {
		return 0
	}
	switch key {
	case joinGroupKey:
		return 5
	case offsetCommitKey:
		return 7
	}
	return 3 // SyncGroup, Heartbeat, LeaveGroup
}

// join starts a new round: JoinGroup, then SyncGroup.
func (m *member) join() {
	c := m.c
	w := c.w
	m.round++
	round := m.round
	m.state = memberJoining
	m.assigned = nil
	if m.joinOp == nil {
		m.joinOp = &Op{Kind: OpJoin, Group: m.g.spec.Name, Instance: m.instance, Generation: -1, Producer: -1}
		w.invoke(c, m.joinOp)
	}
	if m.coord < 0 {
		m.find(round, func() { m.sendJoin(round) })
		return
	}
	m.sendJoin(round)
}

func (m *member) sendJoin(round uint64) {
	c := m.c
	w := c.w
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group = m.g.spec.Name
	req.SessionTimeoutMillis = int32(m.g.spec.sessionTimeout() / time.Millisecond)
	req.RebalanceTimeoutMillis = int32(memberRebalanceTimeout / time.Millisecond)
	req.MemberID = m.memberID
	req.InstanceID = m.instancePtr()
	req.ProtocolType = "consumer"
	proto := kmsg.NewJoinGroupRequestProtocol()
	proto.Name = m.g.spec.Assignor
	proto.Metadata = encodeSubscription(m.g.spec.Topics)
	req.Protocols = append(req.Protocols, proto)
	m.joinOp.Node = m.coord
	timeout := w.requestTimeout() + memberRebalanceTimeout
	c.sendLimited(m.coord, req, m.staticLo(joinGroupKey), 32767, timeout, func(resp kmsg.Response, err error) {
		if !m.active(round) {
			return
		}
		if err != nil {
			m.lost(round, func() { m.sendJoin(round) })
			return
		}
		r := resp.(*kmsg.JoinGroupResponse)
		if r.ErrorCode != errNone {
			w.cov.Inc("group:join-" + errorName(r.ErrorCode))
		}
		switch r.ErrorCode {
		case errNone:
			m.memberID, m.gen, m.leaderID = r.MemberID, r.Generation, r.LeaderID
			m.protocol = ""
			if r.Protocol != nil {
				m.protocol = *r.Protocol
			}
			m.skipped, m.expected = false, nil
			m.leading = m.joinedAsLeader(r)
			switch {
			case m.memberID == m.leaderID:
				m.lead(round, r)
			case m.leading:
				w.cov.Inc("group:static-leader-without-plan")
				m.sendSync(round, nil)
			default:
				if m.instance != "" && strings.HasPrefix(m.leaderID, m.instance+"-") {
					// Version 9 and up: the coordinator named this member's old
					// incarnation, yet did not say SkipAssignment. No member of the group
					// watches for new partitions now.
					w.cov.Inc("group:static-leader-unnamed")
				}
				m.sendSync(round, nil)
			}
		case errMemberIDRequired:
			w.cov.Inc("group:member-id-required")
			m.memberID = r.MemberID
			m.sendJoin(round)
		case errUnknownMemberID, errFencedInstanceID:
			m.memberID = ""
			m.retry(round, func() { m.sendJoin(round) })
		case errNotCoordinator, errCoordinatorNotAvailable, errCoordinatorLoadInProgress:
			m.lost(round, func() { m.sendJoin(round) })
		default:
			m.retry(round, func() { m.sendJoin(round) })
		}
	})
}

// joinedAsLeader reports whether a successful join makes the member its generation's
// leader, as franz-go decides it (see the top of this file).
func (m *member) joinedAsLeader(r *kmsg.JoinGroupResponse) bool {
	if r.MemberID == r.LeaderID {
		return true
	}
	return r.GetVersion() < joinGroupSkipAssignmentVersion && m.instance != "" && strings.HasPrefix(r.LeaderID, m.instance+"-")
}

// lead computes the assignment from the members' subscriptions and fresh metadata.
func (m *member) lead(round uint64, r *kmsg.JoinGroupResponse) {
	c := m.c
	var members []assignMember
	for _, jm := range r.Members {
		topics, err := decodeSubscription(jm.ProtocolMetadata)
		if err != nil {
			c.w.fail("client", m.coord, "group %s: member %s's subscription does not decode: %v", m.g.spec.Name, jm.MemberID, err)
			return
		}
		am := assignMember{id: jm.MemberID, topics: topics}
		if jm.InstanceID != nil {
			am.instance = *jm.InstanceID
		}
		members = append(members, am)
	}
	c.refreshTopics(func() {
		if !m.active(round) {
			return
		}
		counts := map[string]int32{}
		for _, t := range m.g.spec.Topics {
			if n := c.partitions(t); n > 0 {
				counts[t] = n
			}
		}
		if m.countsGen == m.gen && m.counts != nil {
			// A second plan in one generation (its SyncGroup answer was lost and the join
			// repeated): the coordinator hands out whichever plan of the generation it
			// made durable first, so the watch must compare with the smallest.
			c.w.cov.Inc("group:leader-replanned")
			m.counts = fewestPartitions(m.g.spec.Topics, m.counts, counts)
		} else {
			m.counts = counts
		}
		m.countsGen = m.gen
		var plan map[string][]TopicPartition
		if m.protocol == "roundrobin" {
			plan = roundRobinAssign(members, counts)
		} else {
			plan = rangeAssign(members, counts)
		}
		if r.SkipAssignment {
			// The group keeps the assignment it has; this one only tells whether that
			// is stale.
			c.w.cov.Inc("group:skip-assignment")
			m.skipped, m.expected = true, plan[m.memberID]
			m.sendSync(round, nil)
			return
		}
		var out []kmsg.SyncGroupRequestGroupAssignment
		for _, am := range members {
			a := kmsg.NewSyncGroupRequestGroupAssignment()
			a.MemberID = am.id
			a.MemberAssignment = encodeAssignment(plan[am.id])
			out = append(out, a)
		}
		c.w.cov.Inc("group:assignments-computed")
		m.sendSync(round, out)
	})
}

func (m *member) sendSync(round uint64, assignments []kmsg.SyncGroupRequestGroupAssignment) {
	c := m.c
	w := c.w
	req := kmsg.NewPtrSyncGroupRequest()
	req.Group = m.g.spec.Name
	req.Generation = m.gen
	req.MemberID = m.memberID
	req.InstanceID = m.instancePtr()
	req.ProtocolType = kmsg.StringPtr("consumer")
	req.Protocol = kmsg.StringPtr(m.protocol)
	req.GroupAssignment = assignments
	timeout := w.requestTimeout() + memberRebalanceTimeout
	call, local := w.now, w.earliestBrokerClock()
	c.sendLimited(m.coord, req, m.staticLo(syncGroupKey), 32767, timeout, func(resp kmsg.Response, err error) {
		if err == nil && resp.(*kmsg.SyncGroupResponse).ErrorCode == errNone {
			m.g.mark(req.MemberID, req.Generation, call, local, true)
		}
		if !m.active(round) {
			return
		}
		if err != nil {
			m.lost(round, m.join)
			return
		}
		r := resp.(*kmsg.SyncGroupResponse)
		switch r.ErrorCode {
		case errNone:
			m.synced(round, r)
		case errUnknownMemberID, errFencedInstanceID:
			m.memberID = ""
			m.retry(round, m.join)
		case errNotCoordinator, errCoordinatorNotAvailable, errCoordinatorLoadInProgress:
			m.lost(round, m.join)
		default: // REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, ...
			m.retry(round, m.join)
		}
	})
}

// synced takes the assignment, resumes from the committed offsets and starts polling
// and heartbeating.
func (m *member) synced(round uint64, r *kmsg.SyncGroupResponse) {
	c := m.c
	w := c.w
	tps, err := decodeAssignment(r.MemberAssignment)
	if err != nil {
		w.fail("client", m.coord, "group %s: the assignment of member %s does not decode: %v", m.g.spec.Name, m.memberID, err)
		return
	}
	m.assigned = tps
	m.state = memberStable
	op := m.joinOp
	m.joinOp = nil
	op.Member, op.Generation, op.Assigned, op.Node = m.memberID, m.gen, tps, m.coord
	w.complete(op, OK)
	w.cov.Inc("group:generations-joined")
	m.g.synced(m, op)
	m.pos = map[TopicPartition]int64{}
	m.c.later(m.g.spec.heartbeatInterval(), func() { m.heartbeat(round) })
	if m.g.spec.Idle {
		return // it heartbeats, and does nothing else
	}
	if m.leading {
		if m.skipped && !slices.Equal(m.expected, tps) {
			w.cov.Inc("group:leader-rejoin-stale-assignment")
			m.join()
			return
		}
		m.c.later(leaderMetadataEvery, func() { m.watch(round) })
	}
	m.resume(round)
}

// fewestPartitions is, per topic, the smaller of two partition counts (a topic missing
// from one counts as none).
func fewestPartitions(topics []string, a, b map[string]int32) map[string]int32 {
	out := map[string]int32{}
	for _, t := range topics {
		if n := min(a[t], b[t]); n > 0 {
			out[t] = n
		}
	}
	return out
}

// watch is the leader's metadata loop: while the round lasts, it refreshes the
// subscribed topics and rejoins when one has more partitions than the assignment used.
func (m *member) watch(round uint64) {
	c := m.c
	if !m.active(round) || m.state != memberStable {
		return
	}
	c.refreshTopics(func() {
		if !m.active(round) || m.state != memberStable {
			return
		}
		for _, t := range m.g.spec.Topics {
			if n := c.partitions(t); n > m.counts[t] {
				c.w.cov.Inc("group:leader-rejoin-new-partitions")
				m.join()
				return
			}
		}
		c.later(leaderMetadataEvery, func() { m.watch(round) })
	})
}

// heartbeat keeps the session alive while the round lasts.
func (m *member) heartbeat(round uint64) {
	c := m.c
	w := c.w
	if !m.active(round) || m.state != memberStable {
		return
	}
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group = m.g.spec.Name
	req.Generation = m.gen
	req.MemberID = m.memberID
	req.InstanceID = m.instancePtr()
	call, local := w.now, w.earliestBrokerClock()
	c.sendLimited(m.coord, req, m.staticLo(heartbeatKey), 32767, w.requestTimeout(), func(resp kmsg.Response, err error) {
		if err == nil {
			if code := resp.(*kmsg.HeartbeatResponse).ErrorCode; code == errNone || code == errRebalanceInProgress {
				m.g.mark(req.MemberID, req.Generation, call, local, false)
			}
		}
		if !m.active(round) {
			return
		}
		next := func() { c.later(m.g.spec.heartbeatInterval(), func() { m.heartbeat(round) }) }
		if err != nil {
			m.lost(round, next)
			return
		}
		switch code := resp.(*kmsg.HeartbeatResponse).ErrorCode; code {
		case errNone:
			next()
		case errRebalanceInProgress, errIllegalGeneration:
			w.cov.Inc("group:rejoin-" + errorName(code))
			m.join()
		case errUnknownMemberID, errFencedInstanceID:
			w.cov.Inc("group:rejoin-" + errorName(code))
			m.memberID = ""
			m.join()
		case errNotCoordinator, errCoordinatorNotAvailable, errCoordinatorLoadInProgress:
			w.cov.Inc("group:coordinator-moved")
			m.lost(round, next)
		default:
			next()
		}
	})
}

// resume reads the committed offsets of the assigned partitions, then polls.
func (m *member) resume(round uint64) {
	c := m.c
	w := c.w
	if len(m.assigned) == 0 {
		m.poll(round)
		return
	}
	op := &Op{Kind: OpOffsetFetch, Group: m.g.spec.Name, Member: m.memberID, Generation: m.gen, Producer: -1, Node: m.coord}
	w.invoke(c, op)
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = m.g.spec.Name
	req.RequireStable = true
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = m.g.spec.Name
	for _, tp := range m.assigned {
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != tp.Topic {
			req.Topics = append(req.Topics, kmsg.OffsetFetchRequestTopic{Topic: tp.Topic})
			g.Topics = append(g.Topics, kmsg.OffsetFetchRequestGroupTopic{Topic: tp.Topic})
		}
		req.Topics[len(req.Topics)-1].Partitions = append(req.Topics[len(req.Topics)-1].Partitions, tp.Partition)
		g.Topics[len(g.Topics)-1].Partitions = append(g.Topics[len(g.Topics)-1].Partitions, tp.Partition)
	}
	req.Groups = []kmsg.OffsetFetchRequestGroup{g}
	lo := int16(0)
	if m.ctp != nil {
		// A consume-transform-produce worker must not start from offsets a transaction
		// of the group still holds (KIP-447): require_stable needs v7, as Kafka's
		// consumer refuses to go without it at read_committed.
		lo = 7
	}
	c.sendLimited(m.coord, req, lo, req.MaxVersion(), w.requestTimeout(), func(resp kmsg.Response, err error) {
		offsets, code := offsetFetchResult(resp, err, m.assigned)
		if code != errNone {
			op.Code = code
			w.complete(op, Failed)
			if !m.active(round) {
				return
			}
			if code == errNotCoordinator || code == errCoordinatorNotAvailable || code == -1 {
				m.lost(round, func() { m.resume(round) })
				return
			}
			m.retry(round, func() { m.resume(round) })
			return
		}
		op.Offsets = offsets
		w.complete(op, OK)
		if !m.active(round) {
			return
		}
		for _, po := range offsets {
			m.pos[po.TopicPartition] = max(po.Offset, 0)
		}
		m.poll(round)
	})
}

// offsetFetchResult reads an OffsetFetch answer for tps; code is non-zero when any part
// failed (-1 for no answer).
func offsetFetchResult(resp kmsg.Response, err error, tps []TopicPartition) ([]PartitionOffset, int16) {
	if err != nil {
		return nil, -1
	}
	r := resp.(*kmsg.OffsetFetchResponse)
	got := map[TopicPartition]int64{}
	fail := int16(errNone)
	note := func(tp TopicPartition, off int64, code int16) {
		if code != errNone && fail == errNone {
			fail = code
		}
		got[tp] = off
	}
	if r.GetVersion() >= 8 {
		if len(r.Groups) != 1 {
			return nil, errInvalidRequest
		}
		if r.Groups[0].ErrorCode != errNone {
			return nil, r.Groups[0].ErrorCode
		}
		for _, t := range r.Groups[0].Topics {
			for _, p := range t.Partitions {
				note(TopicPartition{t.Topic, p.Partition}, p.Offset, p.ErrorCode)
			}
		}
	} else {
		if r.ErrorCode != errNone {
			return nil, r.ErrorCode
		}
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				note(TopicPartition{t.Topic, p.Partition}, p.Offset, p.ErrorCode)
			}
		}
	}
	if fail != errNone {
		return nil, fail
	}
	out := make([]PartitionOffset, 0, len(tps))
	for _, tp := range tps {
		off, ok := got[tp]
		if !ok {
			return nil, errInvalidRequest
		}
		out = append(out, PartitionOffset{tp, off})
	}
	return out, errNone
}

// poll fetches the next assigned partition, processes what came and commits it.
func (m *member) poll(round uint64) {
	c := m.c
	w := c.w
	if !m.active(round) || m.state != memberStable {
		return
	}
	if len(m.assigned) == 0 {
		return // heartbeats (and the leader's watch) go on; a rebalance brings work
	}
	if w.phase == phaseSafety && m.leaves() {
		m.leave(round)
		return
	}
	if m.ctp != nil {
		m.ctp.poll(round)
		return
	}
	tp := m.assigned[m.next%len(m.assigned)]
	m.next++
	from := m.pos[tp]
	gen, memberID := m.gen, m.memberID
	c.fetchOnce(tp, from, 1, func(op *Op) {
		if w.failure != nil || w.phase == phaseEnd {
			return
		}
		if op.Outcome == Failed && op.Code == errCorruptMessage && m.active(round) {
			// A fenced offset (damaged data no in-sync replica held intact): the
			// application skips it, and the skip is processed and committed like a record.
			// Skipping takes no processing time, and the member polls the same partition
			// next: a fenced range is skipped an offset at a time, so a partition with
			// many of them would otherwise take a full round of polls per offset.
			w.cov.Inc("group:fenced-offset-skipped")
			c.later(0, func() {
				if w.failure != nil || w.phase == phaseEnd {
					return
				}
				m.g.process(tp, span{from, from + 1})
				if m.active(round) {
					m.pos[tp] = from + 1
					m.next = max(m.next-1, 0)
				}
				m.commit(round, gen, memberID, []PartitionOffset{{tp, from + 1}}, w.now+int64(2*w.requestTimeout()), func() { m.poll(round) })
			})
			return
		}
		if op.Outcome == OK && len(op.Records) == 0 && op.Next > from {
			// Only batches compaction emptied: the position moves past them.
			w.cov.Inc("group:empty-batches-skipped")
			c.later(0, func() {
				if w.failure != nil || w.phase == phaseEnd {
					return
				}
				m.g.process(tp, span{from, op.Next})
				if m.active(round) {
					m.pos[tp] = op.Next
				}
				m.commit(round, gen, memberID, []PartitionOffset{{tp, op.Next}}, w.now+int64(2*w.requestTimeout()), func() { m.poll(round) })
			})
			return
		}
		if op.Outcome != OK || len(op.Records) == 0 {
			if !m.active(round) {
				return
			}
			if op.Outcome == Failed && op.Code == errOffsetOutOfRange && w.cfg.Data.mayDelete(tp.Topic) {
				// Retention or DeleteRecords removed records the group had not
				// processed: start from the log start, as auto.offset.reset=earliest
				// does (deletion.go).
				m.resetToStart(round, tp, from)
				return
			}
			if op.Outcome == Failed && op.Code == errOffsetOutOfRange {
				if !w.cfg.Data.FlushAsync {
					w.fail("groups", -1, "group %s: member %s fetched %s at %d, its committed position, and got OFFSET_OUT_OF_RANGE", m.g.spec.Name, m.memberID, tp, from)
					return
				}
				// log.flush=async lost records the group had committed past: start over
				// from the earliest offset, as auto.offset.reset=earliest does.
				w.cov.Inc("group:offset-reset")
				m.pos[tp] = 0
			}
			c.later(dataBackoff, func() { m.poll(round) })
			return
		}
		first, last := op.Records[0].Offset, op.Records[len(op.Records)-1].Offset
		end := max(last+1, op.Next)
		if t, _ := w.cfg.Data.topic(tp.Topic); t.Compact {
			// The records between the position and the first one read were compacted
			// away: the consumer saw all there is of them.
			first = from
		}
		// Processing takes a while, and a rebalance may complete meanwhile: what was
		// processed is committed with the generation it was fetched in, as consumers
		// that commit on revocation do. The coordinator must refuse it once the group
		// moved on.
		c.later(m.processingTime(), func() {
			if w.failure != nil || w.phase == phaseEnd {
				return
			}
			m.g.process(tp, span{first, end})
			if m.active(round) {
				m.pos[tp] = end
			}
			m.commit(round, gen, memberID, []PartitionOffset{{tp, end}}, w.now+int64(2*w.requestTimeout()), func() { m.poll(round) })
		})
	})
}

// processingTime is how long the member takes to process a poll: mostly quick, now and
// then long enough for a rebalance to happen meanwhile (below processingMax).
func (m *member) processingTime() time.Duration {
	rng := m.c.rng
	if rng.IntN(10) < 7 {
		return time.Duration(rng.Int64N(int64(50 * time.Millisecond)))
	}
	return time.Duration(rng.Int64N(int64(processingMax)))
}

// processingMax bounds a member's processingTime.
const processingMax = 1500 * time.Millisecond

// commitNoEffect are commit answers that say nothing was written.
var commitNoEffect = []int16{errIllegalGeneration, errUnknownMemberID, errRebalanceInProgress, errFencedInstanceID,
	errCoordinatorLoadInProgress, errUnknownTopicOrPartition, 28 /* INVALID_COMMIT_OFFSET_SIZE */, 12 /* OFFSET_METADATA_TOO_LARGE */, 24 /* INVALID_GROUP_ID */}

// commit commits offsets with the generation and member id given, retrying until the
// deadline when the answer leaves it unknown; then runs next if the round is current.
func (m *member) commit(round uint64, gen int32, memberID string, offsets []PartitionOffset, deadline int64, next func()) {
	c := m.c
	w := c.w
	if w.failure != nil || w.phase == phaseEnd {
		return
	}
	op := &Op{Kind: OpCommit, Group: m.g.spec.Name, Member: memberID, Instance: m.instance, Generation: gen, Offsets: offsets, Producer: -1}
	w.invoke(c, op)
	again := func(outcome Outcome) {
		w.complete(op, outcome)
		if w.now >= deadline {
			w.cov.Inc("group:commit-given-up")
			if m.active(round) {
				next()
			}
			return
		}
		w.cov.Inc("group:commit-retry")
		c.later(dataBackoff*2, func() {
			if m.coord < 0 {
				m.find(m.round, func() { m.commit(round, gen, memberID, offsets, deadline, next) })
				return
			}
			m.commit(round, gen, memberID, offsets, deadline, next)
		})
	}
	if m.coord < 0 {
		op.Code = -1
		again(Failed)
		return
	}
	op.Node = m.coord
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = m.g.spec.Name
	req.Generation = gen
	req.MemberID = memberID
	req.InstanceID = m.instancePtr()
	req.RetentionTimeMillis = -1
	for _, po := range offsets {
		t := kmsg.NewOffsetCommitRequestTopic()
		t.Topic = po.Topic
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Partition, p.Offset, p.LeaderEpoch = po.Partition, po.Offset, -1
		t.Partitions = append(t.Partitions, p)
		req.Topics = append(req.Topics, t)
	}
	c.sendLimited(m.coord, req, m.staticLo(offsetCommitKey), 32767, w.requestTimeout(), func(resp kmsg.Response, err error) {
		switch {
		case errors.Is(err, errNotSent):
			op.Code = -1
			m.coord = -1
			again(Failed)
			return
		case err != nil:
			m.coord = -1
			again(Indeterminate)
			return
		}
		code := commitCode(resp.(*kmsg.OffsetCommitResponse), len(offsets))
		op.Code = code
		switch {
		case code == errNone:
			w.complete(op, OK)
			m.g.mark(memberID, gen, op.Call, op.Local, false)
			m.g.committed(op)
			if m.active(round) {
				next()
			}
		case slices.Contains(commitNoEffect, code):
			w.complete(op, Failed)
			if m.active(round) {
				if code == errUnknownMemberID || code == errFencedInstanceID {
					m.memberID = ""
				}
				if code != errCoordinatorLoadInProgress && code != errUnknownTopicOrPartition {
					m.join()
					return
				}
				next()
			}
		default:
			if code == errNotCoordinator || code == errCoordinatorNotAvailable {
				m.coord = -1
			}
			again(Indeterminate)
		}
	})
}

// commitCode is the first error of a commit answer, or NONE.
func commitCode(r *kmsg.OffsetCommitResponse, want int) int16 {
	n := 0
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			n++
			if p.ErrorCode != errNone {
				return p.ErrorCode
			}
		}
	}
	if n != want {
		return errInvalidRequest
	}
	return errNone
}

// leaves decides at a poll whether the member leaves the group for a while: with
// LeavePPM, or when the schedule has a departure due.
func (m *member) leaves() bool {
	drawn := m.g.spec.LeavePPM > 0 && m.c.rng.Int64N(1_000_000) < m.g.spec.LeavePPM
	if s := m.c.w.script; s != nil {
		return s.leave(m.c)
	}
	return drawn
}

// leave sends LeaveGroup and stays away for a while.
func (m *member) leave(round uint64) {
	c := m.c
	w := c.w
	w.recordStep(Step{Kind: StepLeave, Client: c.id, Group: m.g.spec.Name})
	m.state = memberLeft
	m.round++
	w.cov.Inc("group:leave")
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = m.g.spec.Name
	req.MemberID = m.memberID
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = m.memberID
	lm.InstanceID = m.instancePtr()
	req.Members = append(req.Members, lm)
	c.sendLimited(m.coord, req, m.staticLo(leaveGroupKey), 32767, w.requestTimeout(), func(kmsg.Response, error) {})
	m.memberID = ""
	m.gen = -1
	away := time.Duration(500+c.rng.IntN(2500)) * time.Millisecond
	c.later(away, func() {
		if w.failure == nil && w.phase != phaseEnd && m.state == memberLeft {
			m.join()
		}
	})
}

// synced records a member's view of a generation and checks that no partition has two
// owners in it. With log.flush=async the group's records may be lost to a power loss,
// and a generation handed out again: the check is off.
func (g *groupRun) synced(m *member, op *Op) {
	w := g.w
	if n := len(g.syncs); n > 0 && op.Generation > g.syncs[n-1].generation {
		w.cov.Inc("group:rebalance")
		if g.spec.Name == ctpGroup {
			w.cov.Inc("ctp:rebalance")
		}
	}
	g.syncs = append(g.syncs, syncMark{at: w.now, generation: op.Generation, op: op.ID})
	if w.cfg.Data.FlushAsync {
		return
	}
	owner := op.Member
	if op.Instance != "" {
		owner = "instance " + op.Instance
	}
	view := g.views[op.Generation]
	if view == nil {
		view = map[string][]TopicPartition{}
		g.views[op.Generation] = view
	}
	if prev, ok := view[owner]; ok && !slices.Equal(prev, op.Assigned) {
		w.fail("groups", op.Node, "group %s generation %d: %s was assigned %v, and later %v (op %d)", g.spec.Name, op.Generation, owner, prev, op.Assigned, op.ID)
		return
	}
	view[owner] = op.Assigned
	for _, other := range sortedKeys(view) {
		if other == owner {
			continue
		}
		for _, tp := range op.Assigned {
			if slices.Contains(view[other], tp) {
				w.fail("groups", op.Node, "group %s generation %d: partition %s is assigned to %s and to %s (op %d)", g.spec.Name, op.Generation, tp, other, owner, op.ID)
				return
			}
		}
	}
}

// committed checks that an accepted commit did not come from a generation older than
// one whose assignment was handed out before the commit began: once a generation's
// SyncGroup answered, the coordinator (any coordinator, after failover too) is at that
// generation or later and must refuse older ones.
func (g *groupRun) committed(op *Op) {
	w := g.w
	if w.cfg.Data.FlushAsync {
		return // the group's records may be lost with log.flush=async
	}
	for _, s := range g.syncs {
		if s.at < op.Call && s.generation > op.Generation {
			w.fail("groups", op.Node, "group %s: commit of generation %d (op %d, began %v) was accepted after generation %d was handed out (op %d, %v)",
				g.spec.Name, op.Generation, op.ID, time.Duration(op.Call), s.generation, s.op, time.Duration(s.at))
			return
		}
	}
}

// process records that a member processed the records in r of tp.
func (g *groupRun) process(tp TopicPartition, r span) {
	g.processed[tp] = addSpan(g.processed[tp], r)
}

// addSpan merges r into sorted, disjoint, non-adjacent spans.
func addSpan(spans []span, r span) []span {
	out := make([]span, 0, len(spans)+1)
	placed := false
	for _, s := range spans {
		switch {
		case s.to < r.from:
			out = append(out, s)
		case r.to < s.from:
			if !placed {
				out = append(out, r)
				placed = true
			}
			out = append(out, s)
		default:
			r = span{min(r.from, s.from), max(r.to, s.to)}
		}
	}
	if !placed {
		out = append(out, r)
	}
	return out
}

// caughtUp reports whether the group processed every partition of its topics up to the
// final read's high watermark. An idle group processes nothing and waits for nothing.
func (g *groupRun) caughtUp() bool {
	d := g.w.data
	if g.spec.Idle {
		return true
	}
	for _, tp := range d.finalPartitions() {
		if !slices.Contains(g.spec.Topics, tp.Topic) {
			continue
		}
		if hw := d.finalHW[tp]; hw > 0 && !covers(g.processed[tp], span{0, hw}) {
			return false
		}
	}
	return true
}

// covers reports whether spans cover r.
func covers(spans []span, r span) bool {
	for _, s := range spans {
		if s.from <= r.from && r.to <= s.to {
			return true
		}
	}
	return false
}
