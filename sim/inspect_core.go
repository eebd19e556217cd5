package sim

import (
	"github.com/seedlog/seedlog/core/metadata"
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

func init() {
	DefaultInspect = &Inspect{Quorum: coreQuorum, Entries: coreQuorumEntries, Metadata: coreMetadata}
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
		tv := TopicView{Name: t.Name}
		for _, p := range im.Partitions(t.ID) {
			tv.Leaders = append(tv.Leaders, p.Leader)
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
