package kafka

// DescribeTransactions, key 65, versions 0-0.
//
// As in Kafka, each transactional id needs DESCRIBE on it and is answered by its
// coordinator: NOT_COORDINATOR elsewhere, TRANSACTIONAL_ID_NOT_FOUND for an id the
// coordinator does not know.

import (
	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeTransactions describes the state of transactional ids this broker coordinates.
func DescribeTransactions(b Broker, req *kmsg.DescribeTransactionsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	resp.SetVersion(req.GetVersion())
	for _, id := range req.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID, st.ProducerID, st.ProducerEpoch, st.StartTimestamp = id, -1, -1, -1
		c, code := txnCoordinator(b, acl.OpDescribe, id)
		if code == 0 {
			found := c.Describe([]string{id})
			if len(found) == 0 {
				code = kerr.TransactionalIDNotFound.Code
			} else if code = found[0].ErrorCode; code == 0 {
				fillTxnState(&st, found[0])
			}
		}
		st.ErrorCode = code
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return resp
}

func fillTxnState(st *kmsg.DescribeTransactionsResponseTransactionState, s txn.TxnStatus) {
	st.State = s.State
	st.ProducerID, st.ProducerEpoch = s.ProducerID, s.ProducerEpoch
	st.TimeoutMillis, st.StartTimestamp = s.TimeoutMs, s.StartMs
	for _, tp := range s.Partitions {
		if k := len(st.Topics); k == 0 || st.Topics[k-1].Topic != tp.Topic {
			t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
			t.Topic = tp.Topic
			st.Topics = append(st.Topics, t)
		}
		t := &st.Topics[len(st.Topics)-1]
		t.Partitions = append(t.Partitions, tp.Partition)
	}
}
