package sim

import (
	"slices"
	"testing"
)

// A plain batch that never left is put back behind younger batches; it must still be
// given up at its delivery timeout, even while the batch ahead of it is in flight, or
// it is sent with a timestamp older than the topic's bound allows (seed 2082).
func TestPlainProducerExpiresBatchBehindYoungerOne(t *testing.T) {
	w := testWorld()
	p := &producer{c: &Client{w: w}, spec: ProducerSpec{Acks: -1}}
	young := &prodBatch{op: &Op{ID: 1, Kind: OpProduce}, deadline: 100, outstanding: 1}
	old := &prodBatch{op: &Op{ID: 2, Kind: OpProduce}, deadline: 10}
	pp := &prodPart{pending: []*prodBatch{young, old}, sent: 1}
	w.now = 50
	p.expire(pp)
	if !slices.Equal(pp.pending, []*prodBatch{young}) || pp.sent != 1 {
		t.Fatalf("pending %d batches, sent %d: the batch past its delivery timeout was kept", len(pp.pending), pp.sent)
	}
	if old.op.Outcome != Failed || young.op.Outcome != Pending {
		t.Fatalf("outcomes: old %v, young %v", old.op.Outcome, young.op.Outcome)
	}
}
