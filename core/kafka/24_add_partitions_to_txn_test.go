package kafka

import (
	"testing"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AddPartitionsToTxn v4+ is for brokers: a client principal without CLUSTER_ACTION is
// refused CLUSTER_AUTHORIZATION_FAILED before any coordinator is asked.
func TestAddPartitionsToTxnV4RefusedToClients(t *testing.T) {
	b := newFakeBroker(t)
	b.access = &Access{Principal: "User:bob", Host: "h", Config: &acl.Config{}, Fresh: true}
	for _, v := range []int16{4, 5} {
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.SetVersion(v)
		tr := kmsg.NewAddPartitionsToTxnRequestTransaction()
		tr.TransactionalID, tr.ProducerID, tr.VerifyOnly = "tx", 7, true
		tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
		tt.Topic, tt.Partitions = "orders", []int32{0}
		tr.Topics = append(tr.Topics, tt)
		req.Transactions = append(req.Transactions, tr)
		var got []kmsg.Response
		AddPartitionsToTxn(b, req, func(r kmsg.Response) { got = append(got, r) })
		if len(got) != 1 {
			t.Fatalf("v%d: answered %d times", v, len(got))
		}
		if r := got[0].(*kmsg.AddPartitionsToTxnResponse); r.ErrorCode != kerr.ClusterAuthorizationFailed.Code || len(r.Transactions) != 0 {
			t.Errorf("v%d: answer %+v, want CLUSTER_AUTHORIZATION_FAILED", v, r)
		}
	}
}
