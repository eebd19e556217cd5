package core

import (
	"fmt"

	"github.com/seedlog/seedlog/core/enc"
	"github.com/seedlog/seedlog/core/raft"
)

// Peer messages are framed as one kind byte and a body encoded with core/enc.
//
//	kind 1  quorum    a core/raft message (raft.EncodeMessage)
//	kind 2  call      {incarnation u64, id u64, key i16, version i16, body bytes}: a Kafka request to the
//	                  active controller (registration, heartbeat, AlterPartition,
//	                  AllocateProducerIDs, or a client's admin request forwarded)
//	kind 3  answer    {id u64, code i16, body bytes}: the response to a call; code is
//	                  NOT_CONTROLLER when the receiver is not the active controller, in
//	                  which case body is empty
//	kind 4  barrier   {id u64}: asks the active controller for a read index
//	kind 5  barrier answer {id u64, code i16, index i64}
//	kind 6  replica   a core/partition message
const (
	peerQuorum        = 1
	peerCall          = 2
	peerAnswer        = 3
	peerBarrier       = 4
	peerBarrierAnswer = 5
	peerReplica       = 6
)

// peerMessageBytesMax bounds a peer message the node accepts.
const peerMessageBytesMax = 128 << 20

type callMsg struct {
	// incarnation is random per start of the sending node, so that (sender,
	// incarnation, id) names one call even across restarts and duplicated datagrams.
	incarnation  uint64
	id           uint64
	key, version int16
	body         []byte
}

type answerMsg struct {
	id   uint64
	code int16
	body []byte
}

type barrierMsg struct{ id uint64 }

type barrierAnswerMsg struct {
	id    uint64
	code  int16
	index int64
}

func encodeQuorum(m raft.Message) []byte {
	w := enc.Writer{B: []byte{peerQuorum}}
	raft.EncodeMessage(&w, m)
	return w.B
}

func encodeCall(m callMsg) []byte {
	w := enc.Writer{B: []byte{peerCall}}
	w.U64(m.incarnation)
	w.U64(m.id)
	w.I16(m.key)
	w.I16(m.version)
	w.Bytes(m.body)
	return w.B
}

func encodeAnswer(m answerMsg) []byte {
	w := enc.Writer{B: []byte{peerAnswer}}
	w.U64(m.id)
	w.I16(m.code)
	w.Bytes(m.body)
	return w.B
}

func encodeBarrier(m barrierMsg) []byte {
	w := enc.Writer{B: []byte{peerBarrier}}
	w.U64(m.id)
	return w.B
}

func encodeBarrierAnswer(m barrierAnswerMsg) []byte {
	w := enc.Writer{B: []byte{peerBarrierAnswer}}
	w.U64(m.id)
	w.I16(m.code)
	w.I64(m.index)
	return w.B
}

// decodePeer decodes a peer message into one of raft.Message, callMsg, answerMsg,
// barrierMsg, barrierAnswerMsg or a replica message. It never panics.
func decodePeer(b []byte) (any, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("empty peer message")
	}
	if len(b) > peerMessageBytesMax {
		return nil, fmt.Errorf("peer message of %d bytes", len(b))
	}
	r := enc.Reader{B: b[1:]}
	var m any
	switch b[0] {
	case peerQuorum:
		qm, err := raft.DecodeMessage(&r)
		if err != nil {
			return nil, err
		}
		m = qm
	case peerCall:
		m = callMsg{incarnation: r.U64(), id: r.U64(), key: r.I16(), version: r.I16(), body: r.Bytes()}
	case peerAnswer:
		m = answerMsg{id: r.U64(), code: r.I16(), body: r.Bytes()}
	case peerBarrier:
		m = barrierMsg{id: r.U64()}
	case peerBarrierAnswer:
		m = barrierAnswerMsg{id: r.U64(), code: r.I16(), index: r.I64()}
	case peerReplica:
		rm, err := decodeReplicaMessage(&r)
		if err != nil {
			return nil, err
		}
		m = rm
	default:
		return nil, fmt.Errorf("unknown peer message kind %d", b[0])
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("peer message kind %d: %w", b[0], err)
	}
	return m, nil
}
