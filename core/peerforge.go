package core

import (
	"github.com/seedlog/seedlog/core/enc"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/seedlog/seedlog/core/raft"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The encoders below build peer messages exactly as a node sends them (the layouts are
// at the top of peer.go), for code outside the node that must speak the peer protocol:
// the simulator's attacker forges messages with them.

// EncodePeerQuorum encodes a controller quorum message (kind 1).
func EncodePeerQuorum(m raft.Message) []byte { return encodeQuorum(m) }

// EncodePeerReplica encodes a message between replicas of a partition (kind 6).
func EncodePeerReplica(m partition.Message) []byte {
	w := enc.Writer{B: []byte{peerReplica}}
	partition.EncodeMessage(&w, m)
	return w.B
}

// EncodePeerCall encodes a Kafka request to the active controller (kind 2), at the
// request's version, as call id of the sending node's incarnation.
func EncodePeerCall(incarnation, id uint64, req kmsg.Request) []byte {
	return encodeCall(callMsg{incarnation: incarnation, id: id, key: req.Key(), version: req.GetVersion(), body: req.AppendTo(nil)})
}

// EncodePeerBarrier encodes a read-index request to the active controller (kind 4).
func EncodePeerBarrier(id uint64) []byte { return encodeBarrier(barrierMsg{id: id}) }
