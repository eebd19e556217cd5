package kafka

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/txn"
	"github.com/twmb/franz-go/pkg/kerr"
)

// txnCoordinator returns the transaction coordinator of a transactional id, or the
// code to answer with, after checking op on the id.
func txnCoordinator(b Broker, op acl.Operation, txnID string) (*txn.Coordinator, int16) {
	if txnID == "" {
		return nil, kerr.InvalidRequest.Code
	}
	if code := b.View().Check(op, acl.ResourceTransactionalID, txnID); code != 0 {
		return nil, code
	}
	c, code := b.TxnCoordinator(txnID)
	if code != 0 {
		return nil, code
	}
	if c == nil {
		panic("kafka: Broker.TxnCoordinator returned no coordinator and no error")
	}
	return c, 0
}
