package kafka

import (
	"testing"

	"github.com/seedlog/seedlog/core/acl"
	"github.com/seedlog/seedlog/core/txn"
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

// TestAddPartitionsToTxnV5Adds: a broker's v5 without VerifyOnly adds the partition on
// a version-2 broker (the transaction becomes Ongoing with it); v4 without VerifyOnly,
// or v5 on a version-1 broker, is INVALID_REQUEST and changes nothing.
func TestAddPartitionsToTxnV5Adds(t *testing.T) {
	for _, c := range []struct {
		version, tv int16
		want        int16
	}{{5, 2, 0}, {4, 2, kerr.InvalidRequest.Code}, {5, 1, kerr.InvalidRequest.Code}} {
		fb := newFakeBroker(t)
		fb.txnVersion = c.tv
		cfg := txn.DefaultConfig(0, 1)
		cfg.NewProducerID = func(reply func(int64, int16)) { reply(100, 0) }
		cfg.SendMarkers = func(_ int64, m txn.MarkerRequest, done func([]int16)) { done(make([]int16, len(m.Partitions))) }
		b := txnBroker{fb, txn.NewCoordinator(fb.now, cfg, &instantLog{})}
		b.c.InitProducerID(fb.now, "tx", 60000, -1, -1, func(int64, int16, int16) {})
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.SetVersion(c.version)
		tr := kmsg.NewAddPartitionsToTxnRequestTransaction()
		tr.TransactionalID, tr.ProducerID, tr.ProducerEpoch = "tx", 100, 0
		tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
		tt.Topic, tt.Partitions = "orders", []int32{0, 1}
		tr.Topics = append(tr.Topics, tt)
		req.Transactions = append(req.Transactions, tr)
		var got *kmsg.AddPartitionsToTxnResponse
		VerifyTxns(b, viaWire(t, req), func(r *kmsg.AddPartitionsToTxnResponse) { got = r })
		checkWire(t, got)
		for _, p := range got.Transactions[0].Topics[0].Partitions {
			if p.ErrorCode != c.want {
				t.Errorf("v%d tv %d: partition %d answered %s, want %s", c.version, c.tv, p.Partition, kerr.ErrorForCode(p.ErrorCode), kerr.ErrorForCode(c.want))
			}
		}
		st := b.c.Describe([]string{"tx"})[0]
		if added := st.State == "Ongoing" && len(st.Partitions) == 2; added != (c.want == 0) {
			t.Errorf("v%d tv %d: status after the call %+v", c.version, c.tv, st)
		}
	}
}
