package kafka

// EndTxn, key 26, versions 0-4.
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
// (an epoch bump at every end) is not served.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EndTxn commits or aborts a producer's ongoing transaction.
func EndTxn(b Broker, req *kmsg.EndTxnRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.SetVersion(req.GetVersion())
	answer := func(code int16) {
		if code == kerr.ProducerFenced.Code && req.GetVersion() < 2 {
			code = kerr.InvalidProducerEpoch.Code
		}
		resp.ErrorCode = code
		reply(resp)
	}
	c, code := txnCoordinator(b, acl.OpWrite, req.TransactionalID)
	if code != 0 {
		answer(code)
		return
	}
	c.EndTxn(b.Now(), req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit, answer)
}
