package kafka

// EndTxn, key 26, versions 0-5.
//
// As in Kafka, the producer needs WRITE on its transactional id. The answer comes once
// the decision (PrepareCommit or PrepareAbort) is durable in __transaction_state; the
// markers follow, and until they are all written the transactional id answers
// CONCURRENT_TRANSACTIONS to the next transaction's requests.
//
// Version 4 (KIP-890) is version 3 on the wire: it says the client takes
// TRANSACTION_ABORTABLE (which the coordinator's EndTxn never answers: that code comes
// from the partitions' verification) and still runs the first transaction protocol
// (Kafka's broker treats versions up to 4 alike). Versions 0 and 1 predate
// PRODUCER_FENCED: they get INVALID_PRODUCER_EPOCH instead, as from Kafka. Version 5
// (KIP-890 part 2) on a broker at transaction.version 2 ends the transaction with the
// epoch bumped and answers the producer id and epoch to use next (txn.Coordinator's
// endTxnV2 has the rules, Kafka 4.0's: retries with the epoch before the bump, an abort
// with nothing open); on a version-1 broker it is served as version 4 and answers -1, -1.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EndTxn commits or aborts a producer's ongoing transaction.
func EndTxn(b Broker, req *kmsg.EndTxnRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.SetVersion(req.GetVersion())
	answer := func(pid int64, epoch int16, code int16) {
		if code == kerr.ProducerFenced.Code && req.GetVersion() < 2 {
			code = kerr.InvalidProducerEpoch.Code
		}
		resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = code, pid, epoch
		reply(resp)
	}
	c, code := txnCoordinator(b, acl.OpWrite, req.TransactionalID)
	if code != 0 {
		answer(-1, -1, code)
		return
	}
	tv := int16(1)
	if TxnV2Request(26, req.GetVersion(), b.TxnVersion()) {
		tv = 2
	}
	c.EndTxnVersion(b.Now(), req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit, tv, answer)
}
