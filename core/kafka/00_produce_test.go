package kafka

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestProduceV12ImplicitAdd: Produce v12 of a transactional producer asks the replica
// for an implicit add on a broker at transaction.version 2, and a verification below
// v12 or on a version-1 broker.
func TestProduceV12ImplicitAdd(t *testing.T) {
	for _, c := range []struct {
		version, tv int16
		txnID       string
		want        string
	}{
		{12, 2, "tx", `produce txn="tx" implicit-add=true`},
		{11, 2, "tx", `produce txn="tx" implicit-add=false`},
		{12, 1, "tx", `produce txn="tx" implicit-add=false`},
		{12, 2, "", `produce txn="" implicit-add=false`},
	} {
		b := newFakeBroker(t)
		b.txnVersion = c.tv
		r := b.host("orders", 0)
		req := kmsg.NewPtrProduceRequest()
		req.SetVersion(c.version)
		req.Acks, req.TimeoutMillis = -1, 1000
		if c.txnID != "" {
			req.TransactionID = &c.txnID
		}
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "orders"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = []byte{1}
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		rs := &replies{t: t}
		Produce(b, viaWire(t, req), rs.reply)
		resp := rs.one().(*kmsg.ProduceResponse)
		checkWire(t, resp)
		if resp.Topics[0].Partitions[0].ErrorCode != 0 || !slices.Equal(r.calls, []string{c.want}) {
			t.Errorf("v%d tv %d txn %q: code %d, calls %q, want %q", c.version, c.tv, c.txnID,
				resp.Topics[0].Partitions[0].ErrorCode, r.calls, c.want)
		}
	}
}
