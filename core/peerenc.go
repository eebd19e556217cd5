package core

import (
	"github.com/seedlog/seedlog/core/partition"
	"github.com/seedlog/seedlog/core/raft"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Encoders of well-formed peer messages of every kind, in the framing (*Node).Peer and
// DecodePeer read. They exist for tests and fault injection (a test playing a peer, a
// simulated faulty or hostile node); the node sends its own messages through the same
// encodings.

// EncodePeerQuorum frames a controller-quorum message.
func EncodePeerQuorum(m raft.Message) []byte { return encodeQuorum(m) }

// EncodePeerReplica frames a message between replicas of a partition.
func EncodePeerReplica(m partition.Message) []byte { return encodeReplica(m) }

// EncodePeerReplicaHead frames a message between replicas as the node sends it: the
// frame is head followed by records, a fetch answer's batches, which are not copied.
func EncodePeerReplicaHead(m partition.Message) (head, records []byte) {
	return encodeReplicaHead(m)
}

// EncodePeerCall frames a Kafka request to the active controller. incarnation and id name
// the call (a receiver drops a second call with the same sender, incarnation and id).
func EncodePeerCall(incarnation, id uint64, req kmsg.Request) []byte {
	return encodeCall(callMsg{incarnation: incarnation, id: id, key: req.Key(), version: req.GetVersion(), body: req.AppendTo(nil)})
}

// EncodePeerAnswer frames the controller's response to call id.
func EncodePeerAnswer(id uint64, resp kmsg.Response) []byte {
	return encodeAnswer(answerMsg{id: id, key: resp.Key(), version: resp.GetVersion(), body: resp.AppendTo(nil)})
}

// EncodePeerAnswerCode frames an answer without a response: code (NOT_CONTROLLER) to
// call id, a request of the given key and version.
func EncodePeerAnswerCode(id uint64, code, key, version int16) []byte {
	return encodeAnswer(answerMsg{id: id, code: code, key: key, version: version})
}

// EncodePeerBarrier frames a read-index request to the active controller.
func EncodePeerBarrier(id uint64) []byte { return encodeBarrier(barrierMsg{id: id}) }

// EncodePeerBarrierAnswer frames the answer to barrier id: code 0 with the read index,
// or NOT_CONTROLLER.
func EncodePeerBarrierAnswer(id uint64, code int16, index int64) []byte {
	return encodeBarrierAnswer(barrierAnswerMsg{id: id, code: code, index: index})
}
