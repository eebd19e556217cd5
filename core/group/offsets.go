package group

import (
	"maps"
	"slices"

	"github.com/seedlog/seedlog/core/plant"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetCommit handles an OffsetCommit request. The offsets are written to the log and
// acknowledged, and shown to OffsetFetch, only once durable on the ISR. The coordinator
// does not know topics: the node answers partitions of unknown topics before calling.
func (c *Coordinator) OffsetCommit(now int64, req *kmsg.OffsetCommitRequest, reply func(*kmsg.OffsetCommitResponse)) {
	now = c.enter(now)
	defer c.leave()
	codes := make([][]int16, len(req.Topics))
	for i, t := range req.Topics {
		codes[i] = make([]int16, len(t.Partitions))
	}
	reply = deferred(c, reply)
	respond := func() { reply(commitResponse(req, codes)) }
	var instanceID *string
	if req.Version >= 7 {
		instanceID = req.InstanceID
	}
	g, code := c.commitGroup(committer{group: req.Group, generation: req.Generation, memberID: req.MemberID, instanceID: instanceID})
	if code != codeNone {
		fillCodes(codes, code)
		respond()
		if g != nil {
			c.dropIfVacant(g)
		}
		return
	}
	if m := g.members[req.MemberID]; m != nil {
		m.sessionFrom = now // a commit shows the member alive, as a heartbeat does
	}
	var commits []commit
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			if p.Metadata != nil && len(*p.Metadata) > c.cfg.OffsetMetadataMax {
				codes[i][j] = codeOffsetMetadataTooLarge
				continue
			}
			commits = append(commits, commit{
				tp:  tp{t.Topic, p.Partition},
				pos: [2]int{i, j},
				o:   offset{offset: p.Offset, leaderEpoch: p.LeaderEpoch, metadata: deref(p.Metadata), commitMs: millis(now)},
			})
		}
	}
	switch {
	case len(commits) == 0:
		respond()
	case c.commitsInFlight >= c.cfg.CommitsInFlightMax:
		for _, cm := range commits {
			codes[cm.pos[0]][cm.pos[1]] = codeCoordinatorNotAvailable
		}
		respond()
	default:
		c.commitOffsets(g, commits, codes, respond)
	}
}

// commit is one partition's offset of an OffsetCommit, and its place in the response.
type commit struct {
	tp  tp
	pos [2]int
	o   offset
}

// committer is who an offset commit says it comes from.
type committer struct {
	group      string
	generation int32
	memberID   string
	instanceID *string
	txn        bool // a TxnOffsetCommit
}

// commitGroup finds the group a commit is for, creating one for a commit that does not
// use group management (generation -1), and checks the committer.
func (c *Coordinator) commitGroup(cm committer) (*group, int16) {
	if code := c.Availability(); code != codeNone {
		return nil, code
	}
	g := c.groups[cm.group]
	if g == nil {
		switch {
		case cm.generation >= 0:
			return nil, codeIllegalGeneration // a member of a generation this group never had
		case len(c.groups) >= c.cfg.GroupsMax:
			return nil, codeCoordinatorNotAvailable
		}
		g = newGroup(cm.group)
		c.groups[cm.group] = g
	}
	return g, c.checkCommitter(g, cm)
}

// checkCommitter is Kafka's rule: a commit naming a member or a generation must come
// from a current member of the current generation, outside the wait for an assignment;
// an anonymous commit (generation -1, no member) is allowed only while the group has no
// members. Transactional commits differ in two ways, as in Kafka: an anonymous one is
// allowed whatever the group holds (producers before KIP-447 send no member), and the
// wait for an assignment does not refuse them.
func (c *Coordinator) checkCommitter(g *group, cm committer) int16 {
	if g.state == stateDead {
		return codeCoordinatorNotAvailable
	}
	if cm.generation < 0 && cm.memberID == "" && cm.instanceID == nil {
		if g.state != stateEmpty && !cm.txn {
			return codeUnknownMemberID
		}
		return codeNone
	}
	if code := g.validateMember(cm.memberID, cm.instanceID); code != codeNone {
		return code
	}
	if cm.generation != g.generation && !c.staleCommitAllowed(g, cm.generation) {
		return codeIllegalGeneration
	}
	if g.state == stateCompletingRebalance && !cm.txn {
		return codeRebalanceInProgress
	}
	return codeNone
}

// staleCommitAllowed is the plant stale-generation-commit: a current member's commit
// from an earlier generation passes.
func (c *Coordinator) staleCommitAllowed(g *group, generation int32) bool {
	return c.cfg.Plants.On(plant.StaleGenerationCommit) && generation >= 0 && generation < g.generation
}

// commitOffsets writes the commits and answers once they are durable.
func (c *Coordinator) commitOffsets(g *group, commits []commit, codes [][]int16, respond func()) {
	recs := make([]KV, len(commits))
	for i, cm := range commits {
		recs[i] = KV{Key: offsetKey(g.id, cm.tp), Value: offsetValue(cm.o)}
		g.commitsPending[cm.tp]++
	}
	c.commitsInFlight++
	settle := func(code int16) {
		c.commitsInFlight--
		for _, cm := range commits {
			if g.commitsPending[cm.tp]--; g.commitsPending[cm.tp] == 0 {
				delete(g.commitsPending, cm.tp)
			}
			codes[cm.pos[0]][cm.pos[1]] = code
		}
	}
	forget := func() {
		for _, cm := range commits {
			g.forgetTombstones([]tp{cm.tp})
		}
	}
	if c.cfg.Plants.On(plant.CommitBeforeDurable) {
		// Planted bug: acknowledge and expose the commit before the log made it durable.
		for _, cm := range commits {
			g.offsets[cm.tp] = cm.o
		}
		respond()
		c.append(recs, func(int64, error) { settle(codeNone); c.dropIfVacant(g) }, func() { settle(codeNone) })
		return
	}
	c.append(recs, func(base int64, err error) {
		if err != nil {
			settle(commitCode(err))
			forget()
			respond()
			c.dropIfVacant(g)
			return
		}
		settle(codeNone)
		if c.groups[g.id] == g {
			for i, cm := range commits {
				g.storeOffset(cm.tp, cm.o, base+int64(i))
			}
		}
		forget()
		respond()
		c.dropIfVacant(g) // a tombstone answered first deleted what it wrote
	}, func() {
		settle(codeNotCoordinator)
		respond()
	})
}

// storeOffset makes a durable commit visible unless a later record of that partition
// (a commit, or a tombstone) already is: memory then agrees with what a replay of the
// log gives.
func (g *group) storeOffset(p tp, o offset, logOffset int64) {
	if cur, ok := g.offsets[p]; ok && cur.logOffset > logOffset {
		return
	}
	if t, ok := g.tombstones[p]; ok && t > logOffset {
		return
	}
	o.logOffset = logOffset
	g.offsets[p] = o
}

func commitResponse(req *kmsg.OffsetCommitRequest, codes [][]int16) *kmsg.OffsetCommitResponse {
	resp := kmsg.NewPtrOffsetCommitResponse()
	resp.Version = req.Version
	for i, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for j, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, codes[i][j]
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func fillCodes(codes [][]int16, code int16) {
	for _, cs := range codes {
		for j := range cs {
			cs[j] = code
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// OffsetFetch answers the committed offsets of group for the given partitions, or for
// every partition with a committed offset when topics is nil. A partition without one
// reads offset -1. With requireStable (v7+), a partition with a commit on its way to the
// log, or with offsets of a transaction not yet ended, answers UNSTABLE_OFFSET_COMMIT,
// which clients retry; without it, such a partition reads its committed offset. OffsetFetch v8+ asks for
// several groups at once; the node calls this once per group. reply runs at once.
func (c *Coordinator) OffsetFetch(now int64, group string, topics []kmsg.OffsetFetchRequestGroupTopic, requireStable bool, reply func(kmsg.OffsetFetchResponseGroup)) {
	c.enter(now)
	defer c.leave()
	reply = deferred(c, reply)
	resp := kmsg.NewOffsetFetchResponseGroup()
	resp.Group = group
	if code := c.Availability(); code != codeNone {
		resp.ErrorCode = code
		reply(resp)
		return
	}
	g := c.groups[group]
	if topics == nil {
		topics = committedTopics(g)
	}
	for _, t := range topics {
		rt := kmsg.NewOffsetFetchResponseGroupTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rt.Partitions = append(rt.Partitions, fetchPartition(g, tp{t.Topic, p}, requireStable))
		}
		resp.Topics = append(resp.Topics, rt)
	}
	reply(resp)
}

func fetchPartition(g *group, p tp, requireStable bool) kmsg.OffsetFetchResponseGroupTopicPartition {
	rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
	rp.Partition = p.partition
	rp.Offset, rp.LeaderEpoch, rp.Metadata = -1, -1, kmsg.StringPtr("")
	if g == nil {
		return rp
	}
	if requireStable && (g.commitsPending[p] > 0 || g.txnPendingAt(p)) {
		rp.ErrorCode = codeUnstableOffsetCommit
		return rp
	}
	if o, ok := g.offsets[p]; ok {
		rp.Offset, rp.LeaderEpoch, rp.Metadata = o.offset, o.leaderEpoch, kmsg.StringPtr(o.metadata)
	}
	return rp
}

// committedTopics lists g's partitions with a committed offset, sorted.
func committedTopics(g *group) []kmsg.OffsetFetchRequestGroupTopic {
	if g == nil {
		return nil
	}
	tps := slices.SortedFunc(maps.Keys(g.offsets), compareTP)
	var out []kmsg.OffsetFetchRequestGroupTopic
	for _, p := range tps {
		if n := len(out); n == 0 || out[n-1].Topic != p.topic {
			out = append(out, kmsg.OffsetFetchRequestGroupTopic{Topic: p.topic})
		}
		last := &out[len(out)-1]
		last.Partitions = append(last.Partitions, p.partition)
	}
	return out
}
