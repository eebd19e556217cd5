package kafka

// InitProducerID, key 22, versions 0-5.
//
// As in Kafka, a request with a transactional id goes to that id's transaction
// coordinator (core/txn), which needs WRITE on the id: a new id gets a new producer id
// at epoch 0, a known one its epoch bumped (which fences the previous instance and
// aborts its open transaction first), and an empty id is treated as none. For an
// idempotent producer any broker answers, from the block of producer
// ids it holds (a broker that cannot get a block answers with the code the node reports);
// a request naming its current producer id and epoch (v3+, KIP-360) gets a fresh producer
// id at epoch 0, and naming only one of the two is INVALID_REQUEST.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// InitProducerID hands a producer its producer id and epoch.
func InitProducerID(b Broker, req *kmsg.InitProducerIDRequest, reply func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.SetVersion(req.GetVersion())
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	fail := func(code int16) {
		resp.ErrorCode = code
		reply(resp)
	}
	switch {
	case req.TransactionalID != nil && *req.TransactionalID != "":
		c, code := txnCoordinator(b, acl.OpWrite, *req.TransactionalID)
		if code != 0 {
			fail(code)
			return
		}
		c.InitProducerID(b.Now(), *req.TransactionalID, req.TransactionTimeoutMillis, req.ProducerID, req.ProducerEpoch,
			func(id int64, epoch int16, code int16) {
				resp.ProducerID, resp.ProducerEpoch, resp.ErrorCode = id, epoch, code
				if code != 0 {
					resp.ProducerID, resp.ProducerEpoch = -1, -1
				}
				reply(resp)
			})
	case req.GetVersion() >= 3 && (req.ProducerID == -1) != (req.ProducerEpoch == -1):
		fail(kerr.InvalidRequest.Code)
	case !idempotentAllowed(b.View()):
		fail(b.View().CheckCluster(acl.OpIdempotentWrite))
	default:
		b.ProducerID(func(id int64, code int16) {
			if code != 0 {
				fail(code)
				return
			}
			resp.ProducerID, resp.ProducerEpoch = id, 0
			reply(resp)
		})
	}
}

// idempotentAllowed reports whether an idempotent producer may start: IDEMPOTENT_WRITE on
// the cluster, or WRITE on some topic (as Kafka accepts since 3.0).
func idempotentAllowed(v View) bool {
	if v.CheckCluster(acl.OpIdempotentWrite) == 0 {
		return true
	}
	return v.Access != nil && v.Access.Fresh && v.MayWriteSomeTopic()
}
