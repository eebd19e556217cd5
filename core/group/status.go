package group

import (
	"bytes"
	"maps"
	"slices"
)

// Status is a snapshot of the coordinator for the simulator's checkers and for people.
// Byte slices are copies.
type Status struct {
	Partition int32
	Phase     string // loading, serving, failed or closed
	LoadErr   string
	Groups    []GroupStatus // sorted by id
}

// GroupStatus is one group.
type GroupStatus struct {
	ID           string
	State        string // Kafka's names: Empty, PreparingRebalance, CompletingRebalance, Stable, Dead
	ProtocolType string
	Protocol     string
	Generation   int32
	Leader       string
	Members      []MemberStatus // sorted by id
	Offsets      []OffsetStatus // durable commits, sorted by topic and partition
	// TxnOffsets are the durable offsets of transactions not yet ended by their marker,
	// sorted by producer id, topic and partition: not committed offsets yet.
	TxnOffsets []TxnOffsetStatus
}

// TxnOffsetStatus is one offset an open transaction committed.
type TxnOffsetStatus struct {
	ProducerID int64
	OffsetStatus
}

// MemberStatus is one member. Assignment is what the member was handed for the group's
// generation (raw bytes, as the leader sent them), nil while there is none.
type MemberStatus struct {
	ID         string
	InstanceID string // "" for a dynamic member
	ClientID   string
	ClientHost string
	Assignment []byte
}

// OffsetStatus is one committed offset.
type OffsetStatus struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
}

// Status describes every group.
func (c *Coordinator) Status() Status {
	return c.status(true)
}

// MemberStatus is Status without the groups' committed offsets (and transactions'), for checkers that look
// only at members and their assignments after many inputs.
func (c *Coordinator) MemberStatus() Status {
	return c.status(false)
}

func (c *Coordinator) status(offsets bool) Status {
	s := Status{Partition: c.cfg.Partition, Phase: c.phase.String()}
	if c.loadErr != nil {
		s.LoadErr = c.loadErr.Error()
	}
	for _, id := range slices.Sorted(maps.Keys(c.groups)) {
		gs := c.groups[id].status()
		if offsets {
			gs.Offsets = c.groups[id].offsetStatus()
			gs.TxnOffsets = c.groups[id].txnOffsetStatus()
		}
		s.Groups = append(s.Groups, gs)
	}
	return s
}

// status describes the group but its offsets.
func (g *group) status() GroupStatus {
	gs := GroupStatus{
		ID:           g.id,
		State:        g.state.String(),
		ProtocolType: g.protocolType,
		Protocol:     g.protocol,
		Generation:   g.generation,
		Leader:       g.leader,
	}
	for _, id := range g.memberIDs() {
		m := g.members[id]
		gs.Members = append(gs.Members, MemberStatus{
			ID:         m.id,
			InstanceID: deref(m.instanceID),
			ClientID:   m.clientID,
			ClientHost: m.clientHost,
			Assignment: bytes.Clone(m.assignment),
		})
	}
	return gs
}

// offsetStatus describes the group's committed offsets.
func (g *group) offsetStatus() []OffsetStatus {
	var out []OffsetStatus
	for _, p := range slices.SortedFunc(maps.Keys(g.offsets), compareTP) {
		o := g.offsets[p]
		out = append(out, OffsetStatus{Topic: p.topic, Partition: p.partition,
			Offset: o.offset, LeaderEpoch: o.leaderEpoch, Metadata: o.metadata})
	}
	return out
}

// txnOffsetStatus describes the offsets of the group's open transactions.
func (g *group) txnOffsetStatus() []TxnOffsetStatus {
	var out []TxnOffsetStatus
	for _, pid := range slices.Sorted(maps.Keys(g.txns)) {
		t := g.txns[pid]
		for _, p := range slices.SortedFunc(maps.Keys(t.offsets), compareTP) {
			o := t.offsets[p]
			out = append(out, TxnOffsetStatus{ProducerID: pid, OffsetStatus: OffsetStatus{Topic: p.topic,
				Partition: p.partition, Offset: o.offset, LeaderEpoch: o.leaderEpoch, Metadata: o.metadata}})
		}
	}
	return out
}

// TxnOffsetsPending counts the offsets of open transactions in every group.
func (s Status) TxnOffsetsPending() int {
	n := 0
	for _, g := range s.Groups {
		n += len(g.TxnOffsets)
	}
	return n
}
