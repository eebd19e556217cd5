package kafka

import (
	"time"

	"github.com/seedlog/seedlog/core/group"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/seedlog/seedlog/core/txn"
)

// Replica is a partition replica as handlers use it: the methods of partition.Replica
// that serve clients. The node's implementation routes the disk work each call emits.
type Replica interface {
	// Produce appends batch; txnID is the request's transactional id ("" when none), for
	// the coordinator's word on a batch that opens a transaction (KIP-890): a
	// verification, or, when implicitAdd (Produce v12 of a transaction-version-2
	// producer), the coordinator adding the partition to the transaction.
	Produce(now int64, txnID string, implicitAdd bool, batch []byte, acks int16, timeout time.Duration, reply func(partition.ProduceResult))
	Fetch(now int64, req partition.FetchRequest, reply func(partition.FetchResult))
	ListOffsets(now int64, ts int64, currentLeaderEpoch int32, isolation int8, reply func(partition.ListOffsetsResult))
	OffsetForLeaderEpoch(now int64, currentLeaderEpoch, epoch int32) partition.EpochEndResult
	DeleteRecords(now int64, offset int64, timeout time.Duration, reply func(partition.DeleteResult))
	HighWatermark() int64
	// Producers lists the idempotent producers a leader remembers (DescribeProducers).
	Producers(now int64) ([]partition.ProducerInfo, int16)
}

// Broker is what the handlers see of the node that runs them.
type Broker interface {
	// Now is the time of the request being handled, on the node's clock.
	Now() int64
	View() View
	// Replica returns this broker's replica of a partition, or nil when it hosts none.
	Replica(topic string, partition int32) Replica
	// Wait calls fire once: as soon as ready() returns true (the node asks after every
	// input it handles) or when its clock reaches deadline. Fetch uses it to long-poll.
	Wait(deadline int64, ready func() bool, fire func())
	// ProducerID hands out a new producer id (epoch 0) from the block this broker holds,
	// asking the controller for a new block when it runs out; code is non-zero on failure.
	ProducerID(reply func(id int64, code int16))
	// Coordinator returns the coordinator of a group when this broker is it, or the error
	// code a client gets (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE,
	// COORDINATOR_LOAD_IN_PROGRESS).
	Coordinator(groupID string) (*group.Coordinator, int16)
	// FindCoordinator locates the coordinator broker of a group, creating the group
	// offsets topic first if it does not exist yet.
	FindCoordinator(groupID string, reply func(node int32, host string, port int32, code int16))
	// Groups lists the coordinators this broker runs, for ListGroups.
	Groups() []*group.Coordinator
	// FetchSessions is the broker's fetch session cache; nil: every fetch is sessionless.
	FetchSessions() *FetchSessions
	// TxnCoordinator, FindTxnCoordinator and TxnCoordinators do for transactional ids
	// what Coordinator, FindCoordinator and Groups do for groups.
	TxnCoordinator(txnID string) (*txn.Coordinator, int16)
	FindTxnCoordinator(txnID string, reply func(node int32, host string, port int32, code int16))
	TxnCoordinators() []*txn.Coordinator
	// OffsetsPartition is the __consumer_offsets partition holding a group's offsets.
	OffsetsPartition(groupID string) txn.TopicPartition
	// TxnVersion is the broker's transaction.version (1 or 2).
	TxnVersion() int16
	// VerifyTxnCommit asks, before a TxnOffsetCommit's offsets are written, the
	// transaction coordinator of txnID whether the producer's transaction is Ongoing with
	// the group's offsets partition (KIP-890 part 1), or, when add, to add that partition
	// (an implicit add, KIP-890 part 2): directly when this broker runs it, otherwise as
	// AddPartitionsToTxn v4 (VerifyOnly) or v5 over the peer listener; a transaction open
	// on the partition already needs no call. done gets the coordinator's code, or one of
	// the broker's own when it could not ask, and with 0 the guard to write the offsets
	// under (group.TxnCommit.Guard), which DropTxnGuard ends if they are not written.
	VerifyTxnCommit(txnID string, pid int64, epoch int16, groupID string, add bool, done func(code int16, guard any))
	// DropTxnGuard ends a guard of VerifyTxnCommit; a guard written with, or nil, is no
	// matter.
	DropTxnGuard(guard any)
}

// partErr answers for a partition this broker has no replica of: unknown when the topic
// does not exist, otherwise this broker is simply not its leader.
func partErr(v View, topic string, p int32) int16 {
	t, ok := v.Image.Topic(topic)
	if !ok || p < 0 || p >= t.Partitions {
		return codeUnknownTopicOrPartition
	}
	return codeNotLeaderOrFollower
}
