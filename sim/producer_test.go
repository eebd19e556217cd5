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

// A transactional batch no broker appended gives its sequences back, so the next batch
// of the epoch to the partition is not refused as out of order; a batch refused as out
// of order does not (the partition's sequences disagree with the instance's: only a new
// epoch helps). Seed 2423: a consume-transform-produce worker's batch never left before
// its deadline, and every later one was refused OUT_OF_ORDER_SEQUENCE_NUMBER.
func TestTxnBatchNeverAppendedGivesSequencesBack(t *testing.T) {
	tp := TopicPartition{Topic: "co", Partition: 1}
	for _, c := range []struct {
		code int16
		want int32
	}{{0, 42}, {errOutOfOrderSequenceNumber, 92}} {
		w := testWorld()
		r := &txnRun{}
		in := &txnInstance{r: r, c: &Client{w: w}, pid: 7, seqs: map[TopicPartition]int32{tp: 92}}
		r.inst = in
		st := &txnState{flying: 1}
		b := &txnBatch{op: &Op{ID: 1, Kind: OpProduce, Producer: 7, Sequence: 42, Values: make([]string, 50), Code: c.code}, tp: tp}
		in.resolve(st, b, in.giveUp(b), -1)
		if b.op.Outcome != Failed || in.seqs[tp] != c.want {
			t.Errorf("code %d: outcome %v, next sequence %d, want Failed and %d", c.code, b.op.Outcome, in.seqs[tp], c.want)
		}
	}
}
