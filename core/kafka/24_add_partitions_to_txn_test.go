package kafka

import (
	"fmt"
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
// a version-2 broker (the transaction becomes Ongoing with it), as does v4 without
// VerifyOnly on any broker (v3's add, batched); v5 on a version-1 broker is
// INVALID_REQUEST and changes nothing.
func TestAddPartitionsToTxnV5Adds(t *testing.T) {
	for _, c := range []struct {
		version, tv int16
		want        int16
	}{{5, 2, 0}, {4, 2, 0}, {4, 1, 0}, {5, 1, kerr.InvalidRequest.Code}} {
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

// TestAddPartitionsToTxnV4Batch: a broker's v4 without VerifyOnly adds each
// transaction's partitions on its own: a transaction naming a partition that does not
// exist is refused (UNKNOWN_TOPIC_OR_PARTITION, OPERATION_NOT_ATTEMPTED for its others)
// and adds nothing, the other one is added; a producer of another epoch is fenced.
func TestAddPartitionsToTxnV4Batch(t *testing.T) {
	fb := newFakeBroker(t)
	fb.txnVersion = 1
	cfg := txn.DefaultConfig(0, 1)
	next := int64(100)
	cfg.NewProducerID = func(reply func(int64, int16)) { reply(next, 0); next++ }
	cfg.SendMarkers = func(_ int64, m txn.MarkerRequest, done func([]int16)) { done(make([]int16, len(m.Partitions))) }
	b := txnBroker{fb, txn.NewCoordinator(fb.now, cfg, &instantLog{})}
	for _, id := range []string{"a", "b", "c"} {
		b.c.InitProducerID(fb.now, id, 60000, -1, -1, func(int64, int16, int16) {})
	}
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.SetVersion(4)
	for _, tx := range []struct {
		id    string
		pid   int64
		epoch int16
		parts []int32
	}{{"a", 100, 0, []int32{0, 1}}, {"b", 101, 0, []int32{0, 99}}, {"c", 102, 3, []int32{2}}} {
		tr := kmsg.NewAddPartitionsToTxnRequestTransaction()
		tr.TransactionalID, tr.ProducerID, tr.ProducerEpoch = tx.id, tx.pid, tx.epoch
		tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
		tt.Topic, tt.Partitions = "orders", tx.parts
		tr.Topics = append(tr.Topics, tt)
		req.Transactions = append(req.Transactions, tr)
	}
	var got *kmsg.AddPartitionsToTxnResponse
	VerifyTxns(b, viaWire(t, req), func(r *kmsg.AddPartitionsToTxnResponse) { got = r })
	checkWire(t, got)
	want := map[string][]int16{
		"a": {0, 0},
		"b": {kerr.OperationNotAttempted.Code, kerr.UnknownTopicOrPartition.Code},
		"c": {kerr.ProducerFenced.Code},
	}
	if len(got.Transactions) != 3 {
		t.Fatalf("%d transactions answered", len(got.Transactions))
	}
	for _, tr := range got.Transactions {
		var codes []int16
		for _, p := range tr.Topics[0].Partitions {
			codes = append(codes, p.ErrorCode)
		}
		if fmt.Sprint(codes) != fmt.Sprint(want[tr.TransactionalID]) {
			t.Errorf("%s: codes %v, want %v", tr.TransactionalID, codes, want[tr.TransactionalID])
		}
	}
	for _, s := range b.c.Describe([]string{"a", "b", "c"}) {
		if added := s.State == "Ongoing" && len(s.Partitions) == 2; added != (s.TxnID == "a") {
			t.Errorf("%s after the call: %+v", s.TxnID, s)
		}
	}
}
