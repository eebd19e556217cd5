package core

import (
	"fmt"
	"time"

	"github.com/seedlog/seedlog/core/kafka"
	"github.com/seedlog/seedlog/core/partition"
	"github.com/seedlog/seedlog/core/plant"
	"github.com/seedlog/seedlog/core/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Transaction verification (KIP-890 part 1): before a transactional batch opens its
// producer's transaction on a partition, the leader's broker asks the producer's
// transaction coordinator whether that transaction is Ongoing with the partition. The
// partition holds the guard (partition/verify.go); the broker makes the call: straight
// to the coordinator when this broker runs it, otherwise as a verify-only
// AddPartitionsToTxn v4 over the peer channel. For a transaction-version-2 producer
// (Produce v12, KIP-890 part 2) the same call adds the partition to the transaction
// instead (AddPartitionsToTxn v5 without VerifyOnly; txn.Coordinator.AddPartitionsImplicit
// when local), under the same guard: the client sends no AddPartitionsToTxn of its own.
// A TxnOffsetCommit asks the same for the group's offsets partition (VerifyTxnCommit),
// and the group coordinator writes the offsets under the guard.

// addPartitionsToTxnKey is the Kafka key of AddPartitionsToTxn, which brokers call
// each other with (v4+, VerifyOnly).
const addPartitionsToTxnKey = 24

// verifyCallVersion is the AddPartitionsToTxn version of a verification call: the
// first with batched transactions and VerifyOnly; addCallVersion that of an implicit
// add, which Kafka 4.0's brokers send.
const (
	verifyCallVersion = 4
	addCallVersion    = 5
)

// verifyTimeout bounds one verification call; past it the produce is answered with a
// code clients retry.
const verifyTimeout = 5 * time.Second

// verifyCallsMax bounds the verification calls a broker has out; beyond it a produce
// that needs one is answered REQUEST_TIMED_OUT.
const verifyCallsMax = 1024

// produce appends a batch to a replica this broker hosts, first asking the transaction
// coordinator of txnID when the partition wants its word on the batch.
func (n *Node) produce(hr *hosted, now int64, txnID string, implicitAdd bool, batch []byte, acks int16, timeout time.Duration, reply func(partition.ProduceResult)) {
	g, need, code := hr.r.StartTxnVerification(now, batch, acks)
	switch {
	case code != 0:
		reply(failedProduce(code))
		return
	case !need:
		hr.r.Produce(now, batch, acks, timeout, reply)
		return
	}
	tp := txn.TopicPartition{Topic: hr.topic, Partition: hr.part}
	n.askTxn(txnID, g.ProducerID, g.Epoch, tp, implicitAdd, func(code int16) {
		if code != kerr.RequestTimedOut.Code { // this broker's bound on its calls: kept as it is
			code = produceVerifyCode(code)
		}
		if hr.gone {
			reply(failedProduce(kerr.NotLeaderForPartition.Code))
			return
		}
		n.withReplica(hr, func() {
			if code != 0 {
				if code != kerr.NotEnoughReplicas.Code {
					n.note("txn-verify-refused", fmt.Sprintf("%s/%d: producer %d epoch %d of %q: %s", hr.topic, hr.part, g.ProducerID, g.Epoch, txnID, kerr.ErrorForCode(code)))
				}
				hr.r.DropTxnVerification(g)
				reply(failedProduce(code))
				return
			}
			hr.r.ProduceVerified(n.now, batch, g, acks, timeout, reply)
		})
	})
}

func failedProduce(code int16) partition.ProduceResult {
	return partition.ProduceResult{Err: code, BaseOffset: -1, LogStartOffset: -1}
}

// VerifyTxnCommit is a TxnOffsetCommit's verification (kafka.Broker): before the group
// coordinator writes the offsets as a batch of the producer's transaction on the
// group's offsets partition, which this broker leads, the transaction coordinator of
// txnID is asked, as for a produce, whether the transaction is Ongoing with that
// partition (add: to add it, TxnOffsetCommit v5), under the partition's guard. done
// gets the coordinator's code (0: write), one of the partition's (NOT_LEADER_OR_FOLLOWER,
// REQUEST_TIMED_OUT beyond its bound, INVALID_PRODUCER_EPOCH) or of askTxn's, and on 0
// the guard for the write (group.TxnCommit.Guard; nil when the producer's transaction is
// open there already and needs no word). A guard handed out and not written with goes
// to DropTxnGuard.
func (n *Node) VerifyTxnCommit(txnID string, pid int64, epoch int16, groupID string, add bool, done func(code int16, guard any)) {
	tp := n.OffsetsPartition(groupID)
	hr := n.replica(tp.Topic, tp.Partition)
	if hr == nil {
		done(kerr.NotLeaderForPartition.Code, nil)
		return
	}
	if !add && n.cfg.Plants.On(plant.TxnOffsetVerificationSkipped) {
		done(0, nil) // planted bug: the offsets are written without the coordinator's word
		return
	}
	g, need, code := hr.r.StartInternalTxnVerification(n.now, pid, epoch)
	switch {
	case code != 0:
		done(code, nil)
		return
	case !need:
		done(0, nil)
		return
	}
	n.askTxn(txnID, pid, epoch, tp, add, func(code int16) {
		if hr.gone {
			done(kerr.NotLeaderForPartition.Code, nil)
			return
		}
		if code != 0 {
			n.withReplica(hr, func() { hr.r.DropTxnVerification(g) })
			if code == kerr.TransactionAbortable.Code || code == kerr.InvalidTxnState.Code || code == kerr.ProducerFenced.Code {
				n.note("txn-verify-refused", fmt.Sprintf("%s/%d: offsets of group %q, producer %d epoch %d of %q: %s", tp.Topic, tp.Partition, groupID, pid, epoch, txnID, kerr.ErrorForCode(code)))
			}
			done(code, nil)
			return
		}
		done(0, &commitGuard{hr: hr, g: g})
	})
}

// commitGuard is the guard of a TxnOffsetCommit's verification, with the replica that
// holds it.
type commitGuard struct {
	hr *hosted
	g  partition.TxnGuard
}

// DropTxnGuard ends a guard VerifyTxnCommit handed out (kafka.Broker); one the group
// coordinator wrote with already, or none, is no matter.
func (n *Node) DropTxnGuard(guard any) {
	cg, ok := guard.(*commitGuard)
	if !ok || cg.hr.gone {
		return
	}
	n.withReplica(cg.hr, func() { cg.hr.r.DropTxnVerification(cg.g) })
}

// TxnVersion is the broker's transaction.version (kafka.Broker).
func (n *Node) TxnVersion() int16 { return n.cfg.TxnVersion }

// askTxn asks the coordinator of txnID whether the producer's transaction is Ongoing
// with tp (add: to add tp to it), and calls done once with the coordinator's code (0:
// append), or one of its own when it could not ask.
func (n *Node) askTxn(txnID string, pid int64, epoch int16, tp txn.TopicPartition, add bool, done func(int16)) {
	if txnID == "" {
		done(kerr.InvalidTxnState.Code) // a transactional batch without its id: nobody to ask
		return
	}
	im := n.quorum.image
	t, ok := im.Topic(TxnTopic)
	if !ok {
		done(kerr.CoordinatorNotAvailable.Code)
		return
	}
	leader, _, ok := im.LeaderOf(t.ID, txn.PartitionFor(txnID, t.Partitions))
	switch {
	case !ok || leader < 0:
		done(kerr.CoordinatorNotAvailable.Code)
		return
	case leader == n.cfg.NodeID:
		c, code := n.TxnCoordinator(txnID)
		switch {
		case code != 0:
		case add:
			c.AddPartitionImplicit(n.now, txnID, pid, epoch, tp, done)
			return
		default:
			code = c.Verify(txnID, pid, epoch, []txn.TopicPartition{tp})[0]
		}
		done(code)
		return
	case n.verifyCalls >= verifyCallsMax:
		done(kerr.RequestTimedOut.Code)
		return
	}
	n.verifyCalls++
	req := verifyRequest(txnID, pid, epoch, tp)
	if add {
		req.SetVersion(addCallVersion)
		req.Transactions[0].VerifyOnly = false
	}
	n.rpc.callBroker(n, leader, req, verifyTimeout, func(resp kmsg.Response, err error) {
		n.verifyCalls--
		r, _ := resp.(*kmsg.AddPartitionsToTxnResponse)
		done(verifyAnswerCode(r, err, txnID, tp))
	})
}

// verifyRequest is the verify-only AddPartitionsToTxn v4 of one partition.
func verifyRequest(txnID string, pid int64, epoch int16, tp txn.TopicPartition) *kmsg.AddPartitionsToTxnRequest {
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.SetVersion(verifyCallVersion)
	tr := kmsg.NewAddPartitionsToTxnRequestTransaction()
	tr.TransactionalID, tr.ProducerID, tr.ProducerEpoch, tr.VerifyOnly = txnID, pid, epoch, true
	tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
	tt.Topic, tt.Partitions = tp.Topic, []int32{tp.Partition}
	tr.Topics = append(tr.Topics, tt)
	req.Transactions = append(req.Transactions, tr)
	return req
}

// verifyAnswerCode is tp's code in a verification answer; an answer that leaves it out,
// or none, is a network failure.
func verifyAnswerCode(r *kmsg.AddPartitionsToTxnResponse, err error, txnID string, tp txn.TopicPartition) int16 {
	if err != nil || r == nil {
		return kerr.NetworkException.Code
	}
	if r.ErrorCode != 0 {
		return r.ErrorCode
	}
	for _, tr := range r.Transactions {
		if tr.TransactionalID != txnID {
			continue
		}
		for _, t := range tr.Topics {
			if t.Topic != tp.Topic {
				continue
			}
			for _, p := range t.Partitions {
				if p.Partition == tp.Partition {
					return p.ErrorCode
				}
			}
		}
	}
	return kerr.NetworkException.Code
}

// produceVerifyCode is what a produce gets for a verification's code, as Kafka's
// ReplicaManager answers: a refusal is INVALID_TXN_STATE (the Produce handler makes it
// TRANSACTION_ABORTABLE for v11), a fenced producer INVALID_PRODUCER_EPOCH, and a
// coordinator that cannot answer now NOT_ENOUGH_REPLICAS, which every client retries
// without a metadata refresh.
func produceVerifyCode(code int16) int16 {
	switch code {
	case 0:
		return 0
	case kerr.ProducerFenced.Code:
		return kerr.InvalidProducerEpoch.Code
	case kerr.TransactionAbortable.Code, kerr.InvalidTxnState.Code, kerr.ClusterAuthorizationFailed.Code:
		return kerr.InvalidTxnState.Code
	case kerr.ConcurrentTransactions.Code, kerr.NetworkException.Code, kerr.CoordinatorLoadInProgress.Code,
		kerr.CoordinatorNotAvailable.Code, kerr.NotCoordinator.Code, kerr.RequestTimedOut.Code:
		return kerr.NotEnoughReplicas.Code
	}
	return code
}

// serveVerifyCall answers another broker's verification. Only the peer channel, where
// every sender proved it is a broker of the cluster, carries these calls.
func (n *Node) serveVerifyCall(from int32, m callMsg) {
	req, ok := m.req.(*kmsg.AddPartitionsToTxnRequest)
	if !ok || !n.cfg.Broker {
		return
	}
	kafka.VerifyTxns(n, req, func(resp *kmsg.AddPartitionsToTxnResponse) {
		n.send(from, encodeAnswer(answerMsg{id: m.id, key: resp.Key(), version: resp.GetVersion(), body: resp.AppendTo(nil)}))
	})
}
