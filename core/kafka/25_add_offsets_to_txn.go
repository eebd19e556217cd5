package kafka

// AddOffsetsToTxn, key 25, versions 0-3.
//
// As in Kafka, the producer needs WRITE on its transactional id and READ on the group;
// the group's __consumer_offsets partition joins the transaction, so that the offsets
// TxnOffsetCommit writes there are committed or aborted with it.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AddOffsetsToTxn adds a group's offsets partition to a producer's transaction.
func AddOffsetsToTxn(b Broker, req *kmsg.AddOffsetsToTxnRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	resp.SetVersion(req.GetVersion())
	answer := func(code int16) {
		resp.ErrorCode = code
		reply(resp)
	}
	c, code := txnCoordinator(b, acl.OpWrite, req.TransactionalID)
	if code == 0 {
		code = b.View().CheckGroup(acl.OpRead, req.Group)
	}
	if code != 0 {
		answer(code)
		return
	}
	c.AddOffsets(b.Now(), req.TransactionalID, req.ProducerID, req.ProducerEpoch, b.OffsetsPartition(req.Group), answer)
}
