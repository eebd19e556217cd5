package sim

import (
	"fmt"
	"slices"

	"github.com/seedlog/seedlog/core"
	"github.com/seedlog/seedlog/core/controller"
	"github.com/seedlog/seedlog/core/group"
	"github.com/seedlog/seedlog/core/metadata"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/seedlog/seedlog/core/raft"
)

// quorumInspectable is what core.Node offers the checkers about its controller quorum.
type quorumInspectable interface {
	Quorum() raft.Status
	QuorumEntries(from, to int64) []raft.Entry
}

// imageHolder is what core.Node offers about its metadata image.
type imageHolder interface {
	Image() metadata.Image
}

// dataInspectable is what core.Node offers about its partitions, lease and groups.
type dataInspectable interface {
	Replicas() []core.ReplicaStatus
	LeaseValid(now int64) bool
	GroupMembers() []group.Status
}

func init() {
	DefaultInspect = &Inspect{Quorum: coreQuorum, Entries: coreQuorumEntries, Metadata: coreMetadata,
		Replicas: coreReplicas, ReplicaViews: coreReplicaViews, ReplicaStamps: coreReplicaStamps, StampView: coreStampView, LeaseValid: coreLeaseValid, Groups: coreGroups, ImageOffset: coreImageOffset, ImageCheck: coreImageCheck,
		FencedBrokers: coreFencedBrokers, Controller: coreController}
}

// controllerInspectable is what core.Node offers about its controller.
type controllerInspectable interface {
	EachControllerBroker(ids []int32, fn func(controller.BrokerStatus)) (bool, []int32)
}

func coreFencedBrokers(m Machine, ids, dst []int32) []int32 {
	out := dst[:0]
	h, ok := m.(imageHolder)
	if !ok {
		return out
	}
	im := h.Image()
	for _, id := range ids {
		if im.IsFenced(id) {
			out = append(out, id)
		}
	}
	return out
}

func coreController(m Machine, ids []int32, fn func(ControllerBroker)) (bool, []int32) {
	// The concrete type lets the callback stay on the stack.
	if n, ok := m.(*core.Node); ok {
		return n.EachControllerBroker(ids, func(b controller.BrokerStatus) { fn(controllerBroker(b)) })
	}
	c, ok := m.(controllerInspectable)
	if !ok {
		return false, ids
	}
	return c.EachControllerBroker(ids, func(b controller.BrokerStatus) { fn(controllerBroker(b)) })
}

func controllerBroker(b controller.BrokerStatus) ControllerBroker {
	return ControllerBroker{ID: b.ID, Epoch: b.Epoch, Fenced: b.Fenced, ShuttingDown: b.ShuttingDown, LastHeartbeat: b.LastHeartbeat}
}

// coreReplicas runs after every step of a broker, so it allocates nothing once dst has
// grown: each view reuses the ISR and epoch slices of the element of dst it overwrites.
func coreReplicas(m Machine, dst []ReplicaView) []ReplicaView {
	out := dst[:0]
	// The concrete type lets the callback stay on the stack.
	if n, ok := m.(*core.Node); ok {
		n.EachReplicaRef(func(topic string, topicID [16]byte, part int32, x core.ReplicaRef) {
			out = growView(out)
			v := &out[len(out)-1]
			isr, epochs, fences := v.ISR[:0], v.Epochs[:0], v.Fences[:0]
			b := x.Brief()
			setBrief(v, topic, topicID, part, &b)
			v.ISR, v.Epochs, v.Fences = append(isr, b.ISR...), append(epochs, b.Epochs...), append(fences, b.Fences...)
			v.stamp = stamp{x, x.Changes()}
		})
		return out
	}
	d, ok := m.(dataInspectable)
	if !ok {
		return out
	}
	for _, r := range d.Replicas() {
		out = append(out, ReplicaView{Topic: r.Topic, TopicID: r.TopicID, Partition: r.Partition,
			Leader: r.Role == partition.RoleLeader && !r.Resigning && !r.Handoff, Follower: r.Role == partition.RoleFollower, LeaderEpoch: r.LeaderEpoch,
			HW: r.HighWatermark, LEO: r.LogEndOffset, Durable: r.DurableOffset, Start: r.LogStartOffset,
			ISR: r.ISR, PartitionEpoch: r.PartitionEpoch, Epochs: r.Epochs, ReadReady: r.ReadReady, Loading: r.Loading, Closed: r.Closed,
			Resigning: r.Resigning, Fences: r.Fences, Repairs: r.Repairs})
	}
	return out
}

// coreReplicaViews is coreReplicas without copying the replicas' slices.
func coreReplicaViews(m Machine, dst []ReplicaView) []ReplicaView {
	n, ok := m.(*core.Node)
	if !ok {
		return coreReplicas(m, dst)
	}
	out := dst[:0]
	n.EachReplica(func(topic string, topicID [16]byte, part int32, b *partition.Brief) {
		out = growView(out)
		setBrief(&out[len(out)-1], topic, topicID, part, b)
	})
	return out
}

// coreReplicaStamps stamps a node's replicas with their count of inputs.
func coreReplicaStamps(m Machine, dst []ReplicaStamp) ([]ReplicaStamp, bool) {
	out := dst[:0]
	n, ok := m.(*core.Node)
	if !ok {
		return out, false
	}
	n.EachReplicaRef(func(topic string, topicID [16]byte, part int32, x core.ReplicaRef) {
		out = append(out, ReplicaStamp{Topic: topic, TopicID: topicID, Partition: part, Ref: x, Changes: x.Changes()})
	})
	return out, true
}

func coreStampView(s *ReplicaStamp, v *ReplicaView) {
	b := s.Ref.(core.ReplicaRef).Brief()
	setBrief(v, s.Topic, s.TopicID, s.Partition, &b)
	v.stamp = s.stamp()
}

// growView extends views by one element, the next of its array when there is one (its
// slices are there to reuse).
func growView(views []ReplicaView) []ReplicaView {
	if len(views) < cap(views) {
		return views[:len(views)+1]
	}
	return append(views, ReplicaView{})
}

// setBrief makes v the view of a replica from its brief, in place: a view is large, and
// one is built for every replica after every step. Its slices alias the replica's.
func setBrief(v *ReplicaView, topic string, topicID [16]byte, part int32, b *partition.Brief) {
	*v = ReplicaView{Topic: topic, TopicID: topicID, Partition: part,
		Leader: b.Role == partition.RoleLeader && !b.Resigning && !b.Handoff, Follower: b.Role == partition.RoleFollower, LeaderEpoch: b.LeaderEpoch,
		HW: b.HighWatermark, LEO: b.LogEndOffset, Durable: b.DurableOffset, Start: b.LogStartOffset,
		ISR: b.ISR, PartitionEpoch: b.PartitionEpoch, Epochs: b.Epochs, ReadReady: b.ReadReady, Loading: b.Loading, Closed: b.Closed,
		Resigning: b.Resigning, Fences: b.Fences, Repairs: b.Repairs, MinISR: b.MinISR}
}

func coreLeaseValid(m Machine, now int64) bool {
	d, ok := m.(dataInspectable)
	return ok && d.LeaseValid(now)
}

func coreGroups(m Machine) []CoordinatorView {
	d, ok := m.(dataInspectable)
	if !ok {
		return nil
	}
	var out []CoordinatorView
	for _, s := range d.GroupMembers() {
		cv := CoordinatorView{Partition: s.Partition, Serving: s.Phase == "serving"}
		for _, g := range s.Groups {
			gv := GroupView{ID: g.ID, State: g.State, Generation: g.Generation}
			for _, mem := range g.Members {
				gv.Members = append(gv.Members, GroupMemberView{ID: mem.ID, InstanceID: mem.InstanceID, Assignment: mem.Assignment})
			}
			cv.Groups = append(cv.Groups, gv)
		}
		out = append(out, cv)
	}
	return out
}

func coreImageOffset(m Machine) int64 {
	h, ok := m.(imageHolder)
	if !ok {
		return -1
	}
	return h.Image().Offset()
}

// coreImageCheck checks the partitions of a node's image: every ISR member is a replica
// and the leader, when there is one, is in the ISR.
func coreImageCheck(m Machine) error {
	h, ok := m.(imageHolder)
	if !ok {
		return nil
	}
	im := h.Image()
	for _, t := range im.Topics() {
		for _, p := range im.Partitions(t.ID) {
			for _, id := range p.ISR {
				if !slices.Contains(p.Replicas, id) {
					return fmt.Errorf("image at offset %d: %s/%d has ISR %v, not within its replicas %v", im.Offset(), t.Name, p.Partition, p.ISR, p.Replicas)
				}
			}
			if p.Leader >= 0 && !slices.Contains(p.ISR, p.Leader) {
				return fmt.Errorf("image at offset %d: %s/%d is led by %d, outside its ISR %v", im.Offset(), t.Name, p.Partition, p.Leader, p.ISR)
			}
		}
	}
	return nil
}

func coreMetadata(m Machine) (MetadataView, bool) {
	h, ok := m.(imageHolder)
	if !ok {
		return MetadataView{}, false
	}
	im := h.Image()
	v := MetadataView{Offset: im.Offset()}
	for _, b := range im.Brokers() {
		v.Brokers = append(v.Brokers, BrokerView{ID: b.ID, Epoch: b.Epoch, Fenced: b.Fenced})
	}
	for _, t := range im.Topics() {
		tv := TopicView{Name: t.Name, ID: t.ID}
		for _, p := range im.Partitions(t.ID) {
			tv.Leaders = append(tv.Leaders, p.Leader)
			tv.ISRs = append(tv.ISRs, slices.Clone(p.ISR))
			tv.Replicas = append(tv.Replicas, slices.Clone(p.Replicas))
			tv.LeaderEpochs = append(tv.LeaderEpochs, p.LeaderEpoch)
			tv.PartitionEpochs = append(tv.PartitionEpochs, p.PartitionEpoch)
			tv.Moving = append(tv.Moving, p.Moving())
		}
		v.Topics = append(v.Topics, tv)
	}
	return v, true
}

func coreQuorum(m Machine) (QuorumStatus, bool) {
	q, ok := m.(quorumInspectable)
	if !ok {
		return QuorumStatus{}, false
	}
	st := q.Quorum()
	return QuorumStatus{
		Leader:      st.Role == raft.Leader,
		Role:        st.Role.String(),
		Epoch:       st.Epoch,
		ActingEpoch: st.PendingEpoch,
		LeaderID:    st.Leader,
		VotedFor:    st.VotedFor,
		HW:          st.HW,
		EndOffset:   st.EndOffset,
		StartOffset: st.StartOffset,

		DurableOffset: st.DurableOffset,
		LastEpoch:     st.LastEpoch,

		Recovering:      st.Recovering,
		QuorumStateLost: st.QuorumStateLost,
		SnapshotLost:    st.SnapshotLost,
	}, true
}

func coreQuorumEntries(m Machine, from, to int64) []QuorumEntry {
	q, ok := m.(quorumInspectable)
	if !ok {
		return nil
	}
	entries := q.QuorumEntries(from, to)
	out := make([]QuorumEntry, len(entries))
	for i, e := range entries {
		out[i] = QuorumEntry{Offset: e.Offset, Epoch: e.Epoch, Data: e.Data}
	}
	return out
}
