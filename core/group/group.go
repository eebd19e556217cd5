package group

import (
	"bytes"
	"cmp"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// state is a group's place in the classic protocol.
type state uint8

const (
	stateEmpty               state = iota // no members; may hold committed offsets
	statePreparingRebalance               // waiting for members to (re)join
	stateCompletingRebalance              // joined; waiting for the leader's assignment
	stateStable                           // assignment durable and handed out
	stateDead                             // being deleted
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

func (s state) String() string { return stateNames[s] }

// timerPending marks a timer started by a Log callback, which carries no time: it starts
// at the coordinator's next input (see Coordinator.timeNow).
const timerPending = int64(-1 << 63)

// protocol is one assignment protocol a member offers, with its metadata (for consumers,
// the subscription).
type protocol struct {
	name     string
	metadata []byte
}

// member is one member of a group.
type member struct {
	id         string
	instanceID *string // group.instance.id of a static member; nil for a dynamic one
	clientID   string
	clientHost string
	// Timeouts in nanoseconds.
	sessionTimeout   int64
	rebalanceTimeout int64
	protocols        []protocol // preference order
	// assignment is what the member was given for the group's generation. It is set only
	// once the group record carrying it is durable, and cleared when a generation ends.
	assignment []byte
	joinSeq    uint64 // order of joining: leader fallback and member order in records

	// joinReply is set while the member waits for the join phase to complete (or, for a
	// static member replacing another in a Stable group, for that change to be durable).
	joinReply func(*kmsg.JoinGroupResponse)
	// syncReply is set while the member waits for the leader's assignment.
	syncReply   func(*kmsg.SyncGroupResponse)
	sessionFrom int64 // start of the current session timer; timerPending until an input

	// sub caches the topics the member's consumer subscription names (subscription);
	// setProtocols clears it.
	sub *subscription
}

// setProtocols replaces the member's protocols, and so its subscription.
func (m *member) setProtocols(ps []protocol) {
	m.protocols = ps
	m.sub = nil
}

func (m *member) awaiting() bool { return m.joinReply != nil || m.syncReply != nil }

func (m *member) sessionDeadline() int64 { return m.sessionFrom + m.sessionTimeout }

// metadataFor is the member's metadata for the named protocol.
func (m *member) metadataFor(name string) []byte {
	for _, p := range m.protocols {
		if p.name == name {
			return p.metadata
		}
	}
	return nil
}

func (m *member) supports(name string) bool {
	for _, p := range m.protocols {
		if p.name == name {
			return true
		}
	}
	return false
}

func protocolsEqual(a, b []protocol) bool {
	return slices.EqualFunc(a, b, func(x, y protocol) bool {
		return x.name == y.name && bytes.Equal(x.metadata, y.metadata)
	})
}

// tp names one partition whose offset a group commits.
type tp struct {
	topic     string
	partition int32
}

func compareTP(a, b tp) int {
	return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
}

// offset is one committed offset.
type offset struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	commitMs    int64
	// logOffset is where the commit's record sits in the offsets partition: of two
	// commits of one partition, the later record wins, in memory as on replay.
	logOffset int64
}

// group is one consumer group and its committed offsets.
type group struct {
	id           string
	state        state
	protocolType string // set by the first member; kept while Empty
	protocol     string // chosen for the generation; "" when Empty
	generation   int32
	leader       string
	members      map[string]*member
	instances    map[string]string // group.instance.id -> member id
	// pending are member ids handed out with MEMBER_ID_REQUIRED (KIP-394) that have not
	// joined yet, with the time after which they are forgotten.
	pending     map[string]int64
	nextJoinSeq uint64

	// The join phase (PreparingRebalance) ends at joinFrom+joinDelay.
	joinFrom         int64
	joinDelay        int64
	rebalanceTimeout int64 // the members' longest, fixed when the rebalance starts
	// initialDelay: the group started this rebalance Empty and waits for a burst of
	// members; each new member extends the wait while initialLeft lasts.
	initialDelay   bool
	initialLeft    int64
	newMemberAdded bool

	// pendingSync are members given the generation that have not sent SyncGroup; the
	// ones left at syncFrom+rebalanceTimeout are removed.
	pendingSync map[string]bool
	syncFrom    int64
	// persistID identifies the append of the leader's assignment in flight (0: none).
	// A rebalance clears it, which turns the append's completion into a no-op.
	persistID uint64

	offsets        map[tp]offset
	commitsPending map[tp]int // commits handed to the log, not yet done (transactional too)
	// txns holds, by producer id, the offsets of transactions not yet ended by their
	// marker. A producer's entry lives from its first TxnOffsetCommit until its marker
	// and its last append are done; Coordinator.producers indexes it.
	txns map[int64]*txnOffsets

	// emptySinceMs is when the group last became Empty, in milliseconds on the
	// coordinator's clock (Kafka's current state timestamp); -1 when unknown. The offsets
	// of an Empty group that had members expire counting from it.
	emptySinceMs int64
	// removing counts, per partition, the tombstones on their way to the log: expiry
	// leaves those partitions alone until they are done.
	removing map[tp]int
	// tombstones holds, for a partition whose offset a durable tombstone removed while a
	// commit of it was still in flight, the tombstone's place in the log: that commit's
	// record lies before it and must not bring the offset back when it completes.
	tombstones map[tp]int64
	// removal is where the group stands in being removed for good (Dead, then gone).
	removal removal
}

// removal is the progress of removing a group whose offsets are all gone: its
// tombstones are on their way (the group is Dead meanwhile), or were refused and are
// written again at the next expiry check. The group stays Dead in both cases: once the
// tombstones may be in the log, a new generation here could end up in a log that says
// the group was removed before it.
type removal uint8

const (
	removalNone removal = iota
	removalWriting
	removalRetry
)

func newGroup(id string) *group {
	return &group{
		id:             id,
		members:        map[string]*member{},
		instances:      map[string]string{},
		pending:        map[string]int64{},
		offsets:        map[tp]offset{},
		commitsPending: map[tp]int{},
		txns:           map[int64]*txnOffsets{},
		emptySinceMs:   -1,
		removing:       map[tp]int{},
		tombstones:     map[tp]int64{},
	}
}

// vacant reports whether forgetting the group loses nothing: it never had a generation,
// holds no members, offsets or work in flight.
func (g *group) vacant() bool {
	return g.state == stateEmpty && g.generation == 0 && len(g.members) == 0 &&
		len(g.pending) == 0 && len(g.offsets) == 0 && len(g.commitsPending) == 0 && len(g.removing) == 0 &&
		len(g.txns) == 0
}

// memberIDs lists the member ids sorted, the order replies go out in.
func (g *group) memberIDs() []string {
	return slices.Sorted(maps.Keys(g.members))
}

// membersByJoin lists the members in the order they joined.
func (g *group) membersByJoin() []*member {
	ms := slices.Collect(maps.Values(g.members))
	slices.SortFunc(ms, func(a, b *member) int { return cmp.Compare(a.joinSeq, b.joinSeq) })
	return ms
}

// validateMember is Kafka's check of a request's member id against the group: a static
// member must name its instance's current member id, a dynamic one a known member id.
func (g *group) validateMember(memberID string, instanceID *string) int16 {
	if instanceID != nil {
		current, ok := g.instances[*instanceID]
		switch {
		case !ok:
			return codeUnknownMemberID
		case current != memberID:
			return codeFencedInstanceID
		}
		return codeNone
	}
	if g.members[memberID] == nil {
		return codeUnknownMemberID
	}
	return codeNone
}

// supportsProtocols reports whether a member (other than except) offering protocols of
// protocolType may join: a group with members needs the same type and a protocol every
// other member supports.
func (g *group) supportsProtocols(except, protocolType string, offered []protocol) bool {
	others := 0
	for id := range g.members {
		if id != except {
			others++
		}
	}
	if others == 0 {
		return len(g.members) == 0 || protocolType == g.protocolType
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range offered {
		if g.allSupport(except, p.name) {
			return true
		}
	}
	return false
}

func (g *group) allSupport(except, name string) bool {
	for id, m := range g.members {
		if id != except && !m.supports(name) {
			return false
		}
	}
	return true
}

// selectProtocol is Kafka's vote: among the protocols every member supports, each
// member votes for the first in its own preference order; most votes wins. Ties go to
// the protocol the earliest-joined member prefers.
func (g *group) selectProtocol() string {
	byJoin := g.membersByJoin()
	var candidates []string
	for _, p := range byJoin[0].protocols {
		if g.allSupport("", p.name) && !slices.Contains(candidates, p.name) {
			candidates = append(candidates, p.name)
		}
	}
	// Every join is checked against the other members' protocols, so the members always
	// share one.
	assert(len(candidates) > 0, "group %q: members share no protocol", g.id)
	votes := map[string]int{}
	for _, m := range byJoin {
		for _, p := range m.protocols {
			if slices.Contains(candidates, p.name) {
				votes[p.name]++
				break
			}
		}
	}
	best := candidates[0]
	for _, name := range candidates[1:] {
		if votes[name] > votes[best] {
			best = name
		}
	}
	return best
}

// rebalanceTimeoutMax is the longest rebalance timeout among the members.
func (g *group) rebalanceTimeoutMax() int64 {
	var d int64
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// firstJoined is the member that joined earliest, or nil.
func (g *group) firstJoined() *member {
	var first *member
	// order-independent: joinSeq is unique per member (nextJoinSeq), so the earliest is one member whatever the order.
	for _, m := range g.members {
		if first == nil || m.joinSeq < first.joinSeq {
			first = m
		}
	}
	return first
}

func (g *group) addMember(m *member, protocolType string) {
	if len(g.members) == 0 {
		// A group without members takes the type of its first member and keeps it while
		// it empties again, as Kafka does.
		g.protocolType = protocolType
	}
	m.joinSeq = g.nextJoinSeq
	g.nextJoinSeq++
	g.members[m.id] = m
	if m.instanceID != nil {
		g.instances[*m.instanceID] = m.id
	}
	if g.leader == "" {
		g.leader = m.id
	}
}

// removeMember forgets m. Its waiting replies must have been answered.
func (g *group) removeMember(m *member) {
	assert(!m.awaiting(), "group %q: removing member %q with a reply waiting", g.id, m.id)
	delete(g.members, m.id)
	if m.instanceID != nil && g.instances[*m.instanceID] == m.id {
		delete(g.instances, *m.instanceID)
	}
	delete(g.pendingSync, m.id)
	if g.leader == m.id {
		g.leader = ""
		if first := g.firstJoined(); first != nil {
			g.leader = first.id
		}
	}
}

// renameMember gives m (a static member being replaced) the id newID.
func (g *group) renameMember(m *member, newID string) {
	oldID := m.id
	delete(g.members, oldID)
	m.id = newID
	g.members[newID] = m
	g.instances[*m.instanceID] = newID
	if g.leader == oldID {
		g.leader = newID
	}
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = true
	}
}
