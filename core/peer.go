package core

import (
	"fmt"

	"github.com/seedlog/seedlog/core/enc"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/seedlog/seedlog/core/raft"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Peer messages are framed as one kind byte and a body encoded with core/enc.
//
//	kind 1  quorum    a core/raft message (raft.EncodeMessage)
//	kind 2  call      {incarnation u64, id u64, key i16, version i16, body bytes}: a Kafka request to the
//	                  active controller (registration, heartbeat, AlterPartition,
//	                  AllocateProducerIDs, or a client's admin request forwarded), or
//	                  WriteTxnMarkers from a transaction coordinator to a partition leader,
//	                  or a verify-only AddPartitionsToTxn (v4+) from a partition leader to
//	                  a transaction coordinator (KIP-890)
//	kind 3  answer    {id u64, code i16, key i16, version i16, body bytes}: the response
//	                  to a call, with the call's key and version so that it decodes
//	                  without the call; code is NOT_CONTROLLER when the receiver is not
//	                  the active controller, in which case body is empty
//	kind 4  barrier   {id u64}: asks the active controller for a read index
//	kind 5  barrier answer {id u64, code i16, index i64}
//	kind 6  replica   a core/partition message
//
// DecodePeer decodes all of it, the Kafka request of a call and the response of an
// answer included, without any node state: the shell runs it where the bytes arrive (a
// connection's reader goroutine), off the node's loop.
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

// PeerMessage is a peer message decoded by DecodePeer, to hand to (*Node).PeerMessage.
// Its contents are the node's business; the zero value is ignored.
type PeerMessage struct {
	// m is a raft.Message, callMsg, answerMsg, barrierMsg, barrierAnswerMsg or
	// partition.Message. The two message interfaces are held as they are, without a
	// wrapper, so that a decoded message costs no allocation beyond its own.
	m any
}

type callMsg struct {
	// incarnation is random per start of the sending node, so that (sender,
	// incarnation, id) names one call even across restarts and duplicated datagrams.
	incarnation  uint64
	id           uint64
	key, version int16
	body         []byte
	req          kmsg.Request // body decoded; nil when encoding
}

type answerMsg struct {
	id           uint64
	code         int16
	key, version int16 // of the call answered
	body         []byte
	resp         kmsg.Response // body decoded when code is 0; nil otherwise and when encoding
}

type barrierMsg struct{ id uint64 }

type barrierAnswerMsg struct {
	id    uint64
	code  int16
	index int64
}

// peerMessageBytes is the room a peer message starts with: most fit in it, so encoding
// one allocates once instead of growing its buffer from a few bytes.
const peerMessageBytes = 128

func encodeQuorum(m raft.Message) []byte {
	w := enc.Writer{B: append(make([]byte, 0, peerMessageBytes), peerQuorum)}
	raft.EncodeMessage(&w, m)
	return w.B
}

// encodeReplica encodes m whole: its head followed by its records.
func encodeReplica(m partition.Message) []byte {
	head, records := encodeReplicaHead(m)
	return append(head, records...)
}

// encodeReplicaHead encodes m but for a fetch answer's records (partition.EncodeHead),
// which it returns: the message is head followed by them.
func encodeReplicaHead(m partition.Message) (head, records []byte) {
	w := enc.Writer{B: append(make([]byte, 0, peerMessageBytes), peerReplica)}
	records = partition.EncodeHead(&w, m)
	return w.B, records
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
	w.I16(m.key)
	w.I16(m.version)
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

// encodePeer encodes a decoded message again, from the bytes it was decoded from: a
// Kafka body is carried as received.
func encodePeer(m PeerMessage) []byte {
	switch m := m.m.(type) {
	case raft.Message:
		return encodeQuorum(m)
	case callMsg:
		return encodeCall(m)
	case answerMsg:
		return encodeAnswer(m)
	case barrierMsg:
		return encodeBarrier(m)
	case barrierAnswerMsg:
		return encodeBarrierAnswer(m)
	case partition.Message:
		return encodeReplica(m)
	}
	return nil
}

// DecodePeer decodes a peer message. It needs no node and never panics, so the shell
// may call it on any goroutine; byte fields alias b. A call's Kafka request is decoded
// and checked here (a key the controller serves, a version the key has), and so is an
// answer's response.
func DecodePeer(b []byte) (PeerMessage, error) {
	if len(b) == 0 {
		return PeerMessage{}, fmt.Errorf("empty peer message")
	}
	if len(b) > peerMessageBytesMax {
		return PeerMessage{}, fmt.Errorf("peer message of %d bytes", len(b))
	}
	r := enc.Reader{B: b[1:]}
	var m any
	var err error
	switch b[0] {
	case peerQuorum:
		m, err = raft.DecodeMessage(&r)
	case peerCall:
		m, err = decodeCall(&r)
	case peerAnswer:
		m, err = decodeAnswer(&r)
	case peerBarrier:
		m = barrierMsg{id: r.U64()}
	case peerBarrierAnswer:
		m = barrierAnswerMsg{id: r.U64(), code: r.I16(), index: r.I64()}
	case peerReplica:
		m, err = partition.DecodeMessage(&r)
	default:
		return PeerMessage{}, fmt.Errorf("unknown peer message kind %d", b[0])
	}
	if err == nil {
		err = r.Done()
	}
	if err != nil {
		return PeerMessage{}, fmt.Errorf("peer message kind %d: %w", b[0], err)
	}
	return PeerMessage{m}, nil
}

// decodeCall reads a call and decodes its request.
func decodeCall(r *enc.Reader) (callMsg, error) {
	m := callMsg{incarnation: r.U64(), id: r.U64(), key: r.I16(), version: r.I16(), body: r.Bytes()}
	if err := r.Err(); err != nil {
		return m, err
	}
	req := kmsg.RequestForKey(m.key)
	if err := checkCallKey(m.key, m.version, req); err != nil {
		return m, err
	}
	req.SetVersion(m.version)
	if err := req.ReadFrom(m.body); err != nil {
		return m, fmt.Errorf("controller call %s v%d: %w", kmsg.NameForKey(m.key), m.version, err)
	}
	m.req = req
	return m, nil
}

// decodeAnswer reads an answer and, when it carries a response, decodes it.
func decodeAnswer(r *enc.Reader) (answerMsg, error) {
	m := answerMsg{id: r.U64(), code: r.I16(), key: r.I16(), version: r.I16(), body: r.Bytes()}
	switch {
	case r.Err() != nil:
		return m, r.Err()
	case m.code != 0 && len(m.body) > 0:
		return m, fmt.Errorf("controller answer with code %d and a body", m.code)
	case m.code != 0:
		return m, nil
	}
	req := kmsg.RequestForKey(m.key)
	if err := checkCallKey(m.key, m.version, req); err != nil {
		return m, err
	}
	resp := req.ResponseKind()
	resp.SetVersion(m.version)
	if err := resp.ReadFrom(m.body); err != nil {
		return m, fmt.Errorf("controller answer %s v%d: %w", kmsg.NameForKey(m.key), m.version, err)
	}
	m.resp = resp
	return m, nil
}

// checkCallKey checks a call's key and version before its body is decoded: only what
// the controller serves, WriteTxnMarkers, or a verification (AddPartitionsToTxn v4+,
// the versions brokers send each other), at a version the key has.
func checkCallKey(key, version int16, req kmsg.Request) error {
	brokerCall := key == writeTxnMarkersKey || key == addPartitionsToTxnKey && version >= verifyCallVersion
	if req == nil || !(controllerServes(key) || brokerCall) || version < 0 || version > req.MaxVersion() {
		return fmt.Errorf("controller call with key %d (%s) version %d", key, kmsg.NameForKey(key), version)
	}
	return nil
}
