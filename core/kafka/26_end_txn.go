package kafka

// EndTxn, key 26, versions 0-3.
//
// As in Kafka, the producer needs WRITE on its transactional id. The answer comes once
// the decision (PrepareCommit or PrepareAbort) is durable in __transaction_state; the
// markers follow, and until they are all written the transactional id answers
// CONCURRENT_TRANSACTIONS to the next transaction's requests.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EndTxn commits or aborts a producer's ongoing transaction.
func EndTxn(b Broker, req *kmsg.EndTxnRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.SetVersion(req.GetVersion())
	answer := func(code int16) {
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
