package core

import (
	"math/rand/v2"
	"time"

	"github.com/seedlog/seedlog/core/group"
)

// OffsetsTopic is the internal topic holding group metadata and committed offsets.
const OffsetsTopic = "__consumer_offsets"

// offsetsAppendTimeout bounds one write of a group coordinator.
const offsetsAppendTimeout = 30 * time.Second

// loadRetry is how long a coordinator's load waits when its partition's new leader
// cannot serve reads yet.
const loadRetry = 50 * time.Millisecond

// newGroupHost is the host of the group coordinators, one per __consumer_offsets
// partition this broker leads.
func newGroupHost() coordinatorHost[*group.Coordinator] {
	return coordinatorHost[*group.Coordinator]{
		topic:        OffsetsTopic,
		kind:         "group",
		label:        "offsets",
		partitionFor: group.PartitionFor,
		start: func(n *Node, now int64, part, epoch int32, log *internalLog) *group.Coordinator {
			cfg := group.DefaultConfig(part, rand.New(rand.NewPCG(n.rng.Uint64(), n.rng.Uint64())))
			cfg.Plants = n.cfg.Plants
			cfg.OffsetsRetention, cfg.OffsetsRetentionCheck = n.cfg.OffsetsRetention, n.cfg.OffsetsRetentionCheck
			cfg.Events = n.groupEvent
			cfg.Current = n.LeaseValid
			return group.NewCoordinator(now, cfg, log)
		},
		topicConfig: func(n *Node, live int) (int32, int16, map[string]string, bool) {
			rf, ok := liveReplication(live, n.cfg.Defaults.OffsetsTopicReplicationFactor)
			return n.cfg.Defaults.OffsetsTopicPartitions, rf, map[string]string{"cleanup.policy": "compact"}, ok
		},
	}
}

// groupEvent makes a note of a coordinator's event.
func (n *Node) groupEvent(e group.Event) {
	n.out.Notes = append(n.out.Notes, Note{Kind: e.Kind.String(), Text: e.String(), Group: &e})
}

// GroupStatus lists the state of every coordinator on this broker, for checkers.
func (n *Node) GroupStatus() []group.Status {
	out := []group.Status{}
	for _, c := range n.groups.all() {
		out = append(out, c.Status())
	}
	return out
}

// GroupMembers is GroupStatus without the committed offsets, which checkers of
// assignments need not copy.
func (n *Node) GroupMembers() []group.Status {
	out := []group.Status{}
	for _, c := range n.groups.all() {
		out = append(out, c.MemberStatus())
	}
	return out
}
